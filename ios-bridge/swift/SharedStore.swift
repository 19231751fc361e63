// The shared encrypted store (documentation code): system sqlite3 (GRDB works
// the same way: DatabasePool + the same pragmas). Opened lazily, closed on
// suspension. Every call comes from the host's io queue — except interrupt(),
// which storeClose makes from the JS queue: it reads the handle under
// `handleLock`, the only state two threads share (open/close set it under it).
//
// Why the 32-byte plaintext header (SQLCipher): iOS inspects files a suspended
// process holds open. A WAL-mode database whose header it recognises as SQLite
// may stay open across suspension; an encrypted header looks like an unknown
// file with a lock, and iOS kills the suspended holder with 0xdead10cc.
// `cipher_plaintext_header_size = 32` keeps the SQLite magic in clear (the
// salt is then stored by the app, e.g. in the keychain, via `cipher_salt`).
// The core additionally closes the DB before every suspension — belt and braces.

import Foundation
import SQLite3

final class SharedStore {
    private let path: String
    private var db: OpaquePointer?
    /// Guards `db` for interrupt() (another thread); the io queue holds it only to set or clear `db`.
    private let handleLock = NSLock()
    /// SQLCipher key (raw 32 bytes, hex) — nil while protected data is unavailable. Set on the io
    /// queue only (NsekitHost.setStoreKey), read there by openIfNeeded.
    var keyHex: String?
    var saltHex: String?

    /// This code's schema (PRAGMA user_version): messages (2: with read_at), notified, cursors, outbox.
    static let schemaVersion: Int32 = 2

    init(path: String) { self.path = path }

    private func openIfNeeded() -> Result<OpaquePointer, HostError> {
        if let db = db { return .success(db) }
        guard let key = keyHex, let salt = saltHex else { return .failure(HostError(code: "STORE_LOCKED", message: "no key in memory")) }
        var h: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_FILEPROTECTION_COMPLETEUNTILFIRSTUSERAUTHENTICATION
        guard sqlite3_open_v2(path, &h, flags, nil) == SQLITE_OK, let handle = h else {
            return .failure(HostError(code: "STORE_CORRUPT", message: "cannot open database"))
        }
        let setup = """
        PRAGMA key = "x'\(key)'";
        PRAGMA cipher_plaintext_header_size = 32;
        PRAGMA cipher_salt = "x'\(salt)'";
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = FULL;
        PRAGMA busy_timeout = 0;
        CREATE TABLE IF NOT EXISTS messages (msg_id TEXT PRIMARY KEY, queue_id TEXT NOT NULL, ts INTEGER NOT NULL,
          notification INTEGER NOT NULL, sealed BLOB NOT NULL, read_at INTEGER);
        CREATE TABLE IF NOT EXISTS notified (msg_id TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS cursors (queue_id TEXT PRIMARY KEY, last_msg_id TEXT, last_ts INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL UNIQUE,
          queue_id TEXT NOT NULL, body BLOB NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        """
        if sqlite3_exec(handle, setup, nil, nil, nil) != SQLITE_OK {
            let msg = String(cString: sqlite3_errmsg(handle))
            sqlite3_close(handle)
            return .failure(HostError(code: msg.contains("not a database") ? "STORE_WRONG_KEY" : "STORE_CORRUPT", message: msg))
        }
        // A file written by a newer nsekit may hold tables this code would misread: refuse it.
        var version: OpaquePointer?
        var userVersion: Int32 = 0
        if sqlite3_prepare_v2(handle, "PRAGMA user_version", -1, &version, nil) == SQLITE_OK, sqlite3_step(version) == SQLITE_ROW {
            userVersion = sqlite3_column_int(version, 0)
        }
        sqlite3_finalize(version)
        if userVersion > Self.schemaVersion {
            sqlite3_close(handle)
            return .failure(HostError(code: "STORE_SCHEMA_TOO_NEW", message: "schema \(userVersion) > \(Self.schemaVersion)"))
        }
        // A version-1 file (before the read state): its rows are unread (read_at NULL).
        if userVersion == 1 { sqlite3_exec(handle, "ALTER TABLE messages ADD COLUMN read_at INTEGER", nil, nil, nil) }
        if userVersion < Self.schemaVersion { sqlite3_exec(handle, "PRAGMA user_version = \(Self.schemaVersion)", nil, nil, nil) }
        handleLock.lock(); db = handle; handleLock.unlock()
        return .success(handle)
    }

    /// One short write transaction. BEGIN IMMEDIATE: the cross-process flock is
    /// already held, so SQLite's own lock is uncontended (no SQLITE_BUSY storms).
    private func write(_ sql: String, _ bind: (OpaquePointer) -> Void) -> Result<Bool, HostError> {
        openIfNeeded().flatMap { db in
            guard sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK else { return .failure(sqliteError(db)) }
            var stmt: OpaquePointer?
            defer { sqlite3_finalize(stmt) }
            guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let s = stmt else {
                sqlite3_exec(db, "ROLLBACK", nil, nil, nil); return .failure(sqliteError(db))
            }
            bind(s)
            guard sqlite3_step(s) == SQLITE_DONE else { let e = sqliteError(db); sqlite3_exec(db, "ROLLBACK", nil, nil, nil); return .failure(e) }
            let inserted = sqlite3_changes(db) > 0
            guard sqlite3_exec(db, "COMMIT", nil, nil, nil) == SQLITE_OK else { return .failure(sqliteError(db)) }
            return .success(inserted)
        }
    }

    func put(_ m: [String: Any]) -> Result<Bool, HostError> {
        guard let id = m["msgId"] as? String, let q = m["queueId"] as? String, let sealedB64 = m["sealed"] as? String,
              let sealed = Data(base64Encoded: sealedB64) else { return .failure(HostError(code: "BRIDGE_BAD_INPUT", message: "bad message")) }
        let ts = (m["ts"] as? Double) ?? 0
        let notif = (m["notification"] as? Bool) ?? true
        return write("INSERT OR IGNORE INTO messages VALUES (?1, ?2, ?3, ?4, ?5)") { s in
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT)
            sqlite3_bind_text(s, 2, q, -1, SQLITE_TRANSIENT)
            sqlite3_bind_int64(s, 3, Int64(ts))
            sqlite3_bind_int(s, 4, notif ? 1 : 0)
            _ = sealed.withUnsafeBytes { sqlite3_bind_blob(s, 5, $0.baseAddress, Int32(sealed.count), SQLITE_TRANSIENT) }
        }
    }

    func markNotified(_ msgId: String) -> Result<Bool, HostError> {
        write("INSERT OR IGNORE INTO notified VALUES (?1)") { s in sqlite3_bind_text(s, 1, msgId, -1, SQLITE_TRANSIENT) }
    }

    // MARK: - both roles: the read state (host-contract.md "Read state", the SQL of src/node/store/statements.ts)

    /// Rows with the notification flag not read yet: the badge. A read, no flock.
    func unreadCount() -> Result<Int, HostError> {
        read("SELECT count(*) FROM messages WHERE read_at IS NULL AND notification = 1", { _ in }) { Int(sqlite3_column_int64($0, 0)) }
            .map { $0.first ?? 0 }
    }

    /// false for a msgId that is not stored.
    func isRead(_ msgId: String) -> Result<Bool, HostError> {
        read("SELECT read_at IS NOT NULL FROM messages WHERE msg_id = ?1", { sqlite3_bind_text($0, 1, msgId, -1, SQLITE_TRANSIENT) }) {
            sqlite3_column_int($0, 0) == 1
        }.map { $0.first ?? false }
    }

    /// max(ts) of the queue's rows, nil when it has none.
    func threadLastTs(_ queueId: String) -> Result<Double?, HostError> {
        read("SELECT max(ts) FROM messages WHERE queue_id = ?1", { sqlite3_bind_text($0, 1, queueId, -1, SQLITE_TRANSIENT) }) { s -> Double? in
            sqlite3_column_type(s, 0) == SQLITE_NULL ? nil : Double(sqlite3_column_int64(s, 0))
        }.map { $0.first ?? nil }
    }

    /// Mark the queue's unread rows read (with `upTo`: only ts ≤ upTo) in one transaction; the ids that
    /// became read, in insertion order (rowid). The core holds the flock around it.
    func markThreadRead(_ queueId: String, upTo: Double?) -> Result<[String], HostError> {
        openIfNeeded().flatMap { db in
            let cond = upTo == nil ? "" : " AND ts <= ?2"
            let bind: (OpaquePointer) -> Void = { s in
                sqlite3_bind_text(s, 1, queueId, -1, SQLITE_TRANSIENT)
                if let u = upTo { sqlite3_bind_int64(s, 2, Int64(u)) }
            }
            guard sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK else { return .failure(sqliteError(db)) }
            let ids = read("SELECT msg_id FROM messages WHERE queue_id = ?1 AND read_at IS NULL\(cond) ORDER BY rowid", bind) { Self.text($0, 0) ?? "" }
            guard case .success(let became) = ids else { sqlite3_exec(db, "ROLLBACK", nil, nil, nil); return ids }
            var stmt: OpaquePointer?
            defer { sqlite3_finalize(stmt) }
            let sql = "UPDATE messages SET read_at = ?3 WHERE queue_id = ?1 AND read_at IS NULL\(cond)"
            guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let s = stmt else {
                let e = sqliteError(db); sqlite3_exec(db, "ROLLBACK", nil, nil, nil); return .failure(e)
            }
            bind(s)
            sqlite3_bind_int64(s, 3, Self.nowMs())
            guard sqlite3_step(s) == SQLITE_DONE else { let e = sqliteError(db); sqlite3_exec(db, "ROLLBACK", nil, nil, nil); return .failure(e) }
            guard sqlite3_exec(db, "COMMIT", nil, nil, nil) == SQLITE_OK else { return .failure(sqliteError(db)) }
            return .success(became)
        }
    }

    // MARK: - app only: cursors and outbox (host-contract.md storeGetCursor … outboxMark)

    /// A read: no flock, no transaction (WAL gives a consistent snapshot per statement).
    private func read<T>(_ sql: String, _ bind: (OpaquePointer) -> Void, row: (OpaquePointer) -> T) -> Result<[T], HostError> {
        openIfNeeded().flatMap { db in
            var stmt: OpaquePointer?
            defer { sqlite3_finalize(stmt) }
            guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let s = stmt else { return .failure(sqliteError(db)) }
            bind(s)
            var rows: [T] = []
            while true {
                switch sqlite3_step(s) {
                case SQLITE_ROW: rows.append(row(s))
                case SQLITE_DONE: return .success(rows)
                default: return .failure(sqliteError(db))
                }
            }
        }
    }

    /// {lastMsgId: String | null, lastTs} — {null, 0} for a queue without a cursor.
    func cursor(_ queueId: String) -> Result<[String: Any], HostError> {
        let none: [String: Any] = ["lastMsgId": NSNull(), "lastTs": 0]
        let rows: Result<[[String: Any]], HostError> = read("SELECT last_msg_id, last_ts FROM cursors WHERE queue_id = ?1",
                                                             { sqlite3_bind_text($0, 1, queueId, -1, SQLITE_TRANSIENT) }) { s in
            ["lastMsgId": Self.text(s, 0).map { $0 as Any } ?? NSNull(), "lastTs": Double(sqlite3_column_int64(s, 1))]
        }
        return rows.map { $0.first ?? none }
    }

    /// Upsert; the core holds the lock around it.
    func setCursor(_ queueId: String, _ c: [String: Any]) -> Result<Void, HostError> {
        let last = c["lastMsgId"] as? String
        let ts = (c["lastTs"] as? Double) ?? 0
        return write("INSERT OR REPLACE INTO cursors VALUES (?1, ?2, ?3)") { s in
            sqlite3_bind_text(s, 1, queueId, -1, SQLITE_TRANSIENT)
            if let last = last { sqlite3_bind_text(s, 2, last, -1, SQLITE_TRANSIENT) } else { sqlite3_bind_null(s, 2) }
            sqlite3_bind_int64(s, 3, Int64(ts))
        }.map { _ in () }
    }

    /// `item` is {clientId, queueId, body}; body is base64, sealed by the core with the outbox key (opaque
    /// here). A new row is `pending`, 0 attempts; false = that clientId is already there (any state).
    func outboxAdd(_ item: [String: Any]) -> Result<Bool, HostError> {
        guard let id = item["clientId"] as? String, let q = item["queueId"] as? String,
              let body = (item["body"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            return .failure(HostError(code: "BRIDGE_BAD_INPUT", message: "bad outbox item"))
        }
        return write("INSERT OR IGNORE INTO outbox (client_id, queue_id, body, state, attempts, updated_at) VALUES (?1, ?2, ?3, 'pending', 0, ?4)") { s in
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT)
            sqlite3_bind_text(s, 2, q, -1, SQLITE_TRANSIENT)
            _ = body.withUnsafeBytes { sqlite3_bind_blob(s, 3, $0.baseAddress, Int32(body.count), SQLITE_TRANSIENT) }
            sqlite3_bind_int64(s, 4, Self.nowMs())
        }
    }

    /// Every row not `sent`, in insertion order (the core skips `failed` ones itself).
    func outboxPending() -> Result<[[String: Any]], HostError> {
        read("SELECT client_id, queue_id, body, state, attempts, updated_at FROM outbox WHERE state != 'sent' ORDER BY seq", { _ in }) { s in
            let n = Int(sqlite3_column_bytes(s, 2))
            let body = sqlite3_column_blob(s, 2).map { Data(bytes: $0, count: n) } ?? Data()
            let row: [String: Any] = ["clientId": Self.text(s, 0) ?? "", "queueId": Self.text(s, 1) ?? "",
                                      "body": body.base64EncodedString(), "state": Self.text(s, 3) ?? "pending",
                                      "attempts": Int(sqlite3_column_int64(s, 4)), "updatedAt": Double(sqlite3_column_int64(s, 5))]
            return row
        }
    }

    /// sending | sent | failed; `sending` counts an attempt. An unknown clientId changes nothing (not an error).
    func outboxMark(_ clientId: String, state: String) -> Result<Void, HostError> {
        guard ["sending", "sent", "failed"].contains(state) else { return .failure(HostError(code: "BRIDGE_BAD_INPUT", message: "bad outbox state")) }
        return write("UPDATE outbox SET state = ?2, updated_at = ?3, attempts = attempts + (?2 = 'sending') WHERE client_id = ?1") { s in
            sqlite3_bind_text(s, 1, clientId, -1, SQLITE_TRANSIENT)
            sqlite3_bind_text(s, 2, state, -1, SQLITE_TRANSIENT)
            sqlite3_bind_int64(s, 3, Self.nowMs())
        }.map { _ in () }
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    private static func text(_ s: OpaquePointer, _ i: Int32) -> String? { sqlite3_column_text(s, i).map { String(cString: $0) } }

    /// Called from the JS queue: aborts a statement running on the io queue at once (sqlite3_interrupt
    /// is thread-safe; reading the handle is not, hence the lock — close() cannot free it meanwhile).
    func interrupt() {
        handleLock.lock(); defer { handleLock.unlock() }
        if let db = db { sqlite3_interrupt(db) }
    }

    /// Roll back anything open, checkpoint the WAL to zero length, close the file.
    func close() -> Result<Void, HostError> {
        guard let h = db else { return .success(()) }
        if sqlite3_get_autocommit(h) == 0 { sqlite3_exec(h, "ROLLBACK", nil, nil, nil) }
        sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", nil, nil, nil)
        handleLock.lock(); db = nil; sqlite3_close_v2(h); handleLock.unlock()
        return .success(())
    }

    private func sqliteError(_ db: OpaquePointer) -> HostError {
        let rc = sqlite3_errcode(db)
        // STORE_CLOSED only for a statement our own storeClose interrupted (host-setup.md §2).
        let code = rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? "STORE_CORRUPT" : rc == SQLITE_INTERRUPT ? "STORE_CLOSED" : "STORE_CORRUPT"
        return HostError(code: code, message: String(cString: sqlite3_errmsg(db)))
    }
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
