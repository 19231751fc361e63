// Device-locked fallback (documentation code): one JSON line per relay message,
// appended with O_APPEND and fsync'd before done(null), so the core may ACK.
// The file is created with NSFileProtectionCompleteUntilFirstUserAuthentication
// (it must be writable while the device is locked, after first unlock); it only
// ever holds the still end-to-end-sealed relay body.

import Foundation

final class PendingInbox {
    private let path: String
    init(path: String) { self.path = path }

    func append(_ m: [String: Any]) -> Result<Void, HostError> {
        guard let line = try? JSONSerialization.data(withJSONObject: m, options: [.sortedKeys]) else {
            return .failure(HostError(code: "INBOX_IO", message: "not serialisable"))
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .failure(HostError(code: "INBOX_IO", message: String(cString: strerror(errno)))) }
        defer { close(fd) }
        flock(fd, LOCK_SH)          // the importer's exclusive flock waits for this append to finish
        var bytes = line
        bytes.append(0x0a)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, bytes.count) }
        guard n == bytes.count, fsync(fd) == 0 else {
            return .failure(HostError(code: "INBOX_IO", message: "short write or fsync failed"))
        }
        return .success(())
    }

    /// Claim for import: an earlier unfinished claim first; else rename the inbox atomically (an
    /// appender that opened the old inode is done before we read: appenders take a shared flock,
    /// the claimer an exclusive one on the claimed file). Complete lines only.
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
        var torn = 0, bad = 0
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where !line.isEmpty {
            let complete = i < lines.count - 1            // the last piece has no newline: torn
            guard complete else { torn += 1; continue }
            if let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any], o["msgId"] is String, o["sealed"] is String {
                records.append(o)
            } else { bad += 1 }
        }
        return .success(["claimId": (p as NSString).lastPathComponent, "records": records, "torn": torn, "bad": bad])
    }

    func claimDone(_ claimId: String) -> Result<Void, HostError> {
        let p = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(claimId)
        guard claimId.hasPrefix((path as NSString).lastPathComponent + ".claim-"), unlink(p) == 0 else {
            return .failure(HostError(code: "INBOX_IO", message: "no such claim"))
        }
        return .success(())
    }
}
