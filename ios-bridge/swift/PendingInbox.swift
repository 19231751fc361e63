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
        var bytes = line
        bytes.append(0x0a)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, bytes.count) }
        guard n == bytes.count, fsync(fd) == 0 else {
            return .failure(HostError(code: "INBOX_IO", message: "short write or fsync failed"))
        }
        return .success(())
    }
}
