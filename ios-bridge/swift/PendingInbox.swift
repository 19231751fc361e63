// Device-locked fallback (documentation code): one JSON line per relay message,
// {"v":1,"msgId":…,"queueId":…,"ts":…,"flags":0|1,"sealed":"<base64>"} (host-setup.md §4),
// appended with O_APPEND and fsync'd before done(null), so the core may ACK.
// A second line kind, {"v":1,"msgId":…,"queueId":…,"notified":true}, records that
// the generic notification for msgId was shown while locked (at most once per message).
// A claim's markers are carried into the fresh live file as {…,"carried":true,"at":ms}
// lines (see claim()), so a process locked again after the import still sees them:
// own markers with at = now, carried ones again with their at while younger than
// markerCarryMs (24 h, MARKER_CARRY_MS in the core); every import stores them again.
// The file is created with NSFileProtectionCompleteUntilFirstUserAuthentication
// (it must be writable while the device is locked, after first unlock); it only
// ever holds the still end-to-end-sealed relay body.

import Foundation

final class PendingInbox {
    private let path: String
    init(path: String) { self.path = path }

    /// `m` is the contract's {msgId, queueId, ts, notification, sealed}; the line is the file format's.
    func append(_ m: [String: Any]) -> Result<Void, HostError> {
        let line: [String: Any] = ["v": 1, "msgId": m["msgId"] ?? "", "queueId": m["queueId"] ?? "", "ts": m["ts"] ?? 0,
                                   "flags": (m["notification"] as? Bool ?? true) ? 1 : 0, "sealed": m["sealed"] ?? ""]
        return withLiveFile(LOCK_SH) { fd in  // the importer's exclusive flock waits for this append to finish
            self.writeLine(fd, line).map { _ in () }
        }
    }

    /// Exclusive flock: the scan and the marker append are one step for every process. Carried
    /// markers count like own ones.
    func markNotified(_ msgId: String, queueId: String) -> Result<Bool, HostError> {
        withLiveFile(LOCK_EX) { fd in
            if Self.markers(in: Self.readAll(fd)).contains(msgId) || self.claimsMark(msgId) { return .success(false) }
            return self.writeLine(fd, ["v": 1, "msgId": msgId, "queueId": queueId, "notified": true]).map { _ in true }
        }
    }

    /// Open the live file and flock it; reopen if an importer renamed it between open and flock.
    private func withLiveFile<T>(_ op: Int32, _ body: (Int32) -> Result<T, HostError>) -> Result<T, HostError> {
        while true {
            let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return .failure(HostError(code: "INBOX_IO", message: String(cString: strerror(errno)))) }
            defer { close(fd) }
            flock(fd, op)
            var a = stat(), b = stat()
            guard fstat(fd, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino else { continue }  // claimed meanwhile
            return body(fd)
        }
    }

    private func writeLine(_ fd: Int32, _ o: [String: Any]) -> Result<Void, HostError> {
        writeLines(fd, [o])
    }

    /// One write() of complete lines, then fsync.
    private func writeLines(_ fd: Int32, _ objects: [[String: Any]]) -> Result<Void, HostError> {
        var bytes = Data()
        for o in objects {
            guard let line = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) else {
                return .failure(HostError(code: "INBOX_IO", message: "not serialisable"))
            }
            bytes.append(line)
            bytes.append(0x0a)
        }
        // A torn tail left by a crashed appender must not swallow this line (as the Node inbox does).
        let size = lseek(fd, 0, SEEK_END)
        var last: UInt8 = 0x0a
        if size > 0, pread(fd, &last, 1, size - 1) == 1, last != 0x0a {
            bytes.insert(0x0a, at: bytes.startIndex)
        }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, bytes.count) }
        guard n == bytes.count, fsync(fd) == 0 else {
            return .failure(HostError(code: "INBOX_IO", message: "short write or fsync failed"))
        }
        return .success(())
    }

    private static func readAll(_ fd: Int32) -> Data {
        lseek(fd, 0, SEEK_SET)
        return FileHandle(fileDescriptor: fd, closeOnDealloc: false).readDataToEndOfFile()
    }

    /// msgIds of the complete marker lines, own and carried (a torn tail is not a marker yet).
    private static func markers(in data: Data) -> Set<String> {
        var out = Set<String>()
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast()
        for line in lines where !line.isEmpty {
            if let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
               o["notified"] as? Bool == true, let id = o["msgId"] as? String { out.insert(id) }
        }
        return out
    }

    private func claimsMark(_ msgId: String) -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let claims = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { $0.hasPrefix(base + ".claim-") } ?? []
        return claims.contains { name in
            FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent(name)).map { Self.markers(in: $0).contains(msgId) } ?? false
        }
    }

    /// Claim for import: an earlier unfinished claim first; else rename the inbox atomically (an
    /// appender that opened the old inode is done before we read: appenders take a shared flock,
    /// the claimer an exclusive one on the claimed file). Complete lines only. Before answering,
    /// the claim's own markers are carried into the live file (see carry).
    func claim() -> Result<[String: Any]?, HostError> {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let fm = FileManager.default
        var claimPath = (try? fm.contentsOfDirectory(atPath: dir))?.first { $0.hasPrefix(base + ".claim-") }
            .map { (dir as NSString).appendingPathComponent($0) }
        if claimPath == nil {
            guard fm.fileExists(atPath: path) else { return .success(nil) }
            let p = path + ".claim-" + UUID().uuidString
            guard rename(path, p) == 0 else { return .failure(HostError(code: "INBOX_IO", message: String(cString: strerror(errno)))) }
            claimPath = p
        }
        let p = claimPath!
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(HostError(code: "INBOX_IO", message: String(cString: strerror(errno)))) }
        flock(fd, LOCK_EX)          // waits for an appender still writing to the old inode
        flock(fd, LOCK_UN)
        close(fd)
        guard let data = fm.contents(atPath: p) else { return .failure(HostError(code: "INBOX_IO", message: "unreadable claim")) }
        var records: [[String: Any]] = []
        var notified: [String] = []
        var carry: [(msgId: String, queueId: String, at: Double)] = []   // markers to carry on
        let now = Date().timeIntervalSince1970 * 1000
        var torn = 0, bad = 0
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where !line.isEmpty {
            let complete = i < lines.count - 1            // the last piece has no newline: torn
            guard complete else { torn += 1; continue }
            let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
            guard let o = o, o["v"] as? Int == 1, let id = o["msgId"] as? String, !id.isEmpty, o["queueId"] is String else {
                bad += 1; continue                                  // not JSON, another version, no id: bad
            }
            if o["notified"] as? Bool == true, o["sealed"] == nil, o["carried"] == nil || o["carried"] as? Bool == true {
                notified.append(id)
                let queueId = o["queueId"] as! String
                if o["carried"] == nil { carry.append((id, queueId, now)) }
                else if let at = o["at"] as? Double, now - at < Self.markerCarryMs { carry.append((id, queueId, at)) }
            } else if let sealed = o["sealed"] as? String, let ts = o["ts"] as? Double, let flags = o["flags"] as? Int, flags == 0 || flags == 1 {
                // Back to the contract's shape for the core.
                records.append(["msgId": id, "queueId": o["queueId"]!, "ts": ts, "notification": flags == 1, "sealed": sealed])
            } else { bad += 1 }
        }
        if case .failure(let e) = self.carry(carry) { return .failure(e) }
        return .success(["claimId": (p as NSString).lastPathComponent, "records": records, "notified": notified, "torn": torn, "bad": bad])
    }

    /// How long a carried marker is carried on (MARKER_CARRY_MS in src/core/session/ports.ts).
    static let markerCarryMs: Double = 24 * 60 * 60 * 1000

    /// Append the claim's markers to the live file as carried markers (exclusive flock, ids the
    /// live file already has are skipped, one write + fsync). Runs before claim() answers, so before
    /// claimDone can delete the claim: a crash anywhere leaves the claim and the next claim() carries
    /// it again (a doubled carried line is harmless, a missing one is a second generic notification).
    private func carry(_ markers: [(msgId: String, queueId: String, at: Double)]) -> Result<Void, HostError> {
        guard !markers.isEmpty else { return .success(()) }
        return withLiveFile(LOCK_EX) { fd in
            var have = Self.markers(in: Self.readAll(fd))
            var lines: [[String: Any]] = []
            for k in markers where !have.contains(k.msgId) {
                have.insert(k.msgId)
                lines.append(["v": 1, "msgId": k.msgId, "queueId": k.queueId, "notified": true, "carried": true, "at": k.at])
            }
            return lines.isEmpty ? .success(()) : self.writeLines(fd, lines)
        }
    }

    func claimDone(_ claimId: String) -> Result<Void, HostError> {
        let p = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(claimId)
        guard claimId.hasPrefix((path as NSString).lastPathComponent + ".claim-"), unlink(p) == 0 else {
            return .failure(HostError(code: "INBOX_IO", message: "no such claim"))
        }
        return .success(())
    }
}
