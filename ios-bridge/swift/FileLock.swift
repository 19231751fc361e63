// Cross-process lock for the app and the NSE (documentation code).
// flock(2) on a file in the app-group container: released by the kernel if the
// holder dies. Never a blocking flock: a holder frozen by iOS would pin the
// waiting thread forever; instead LOCK_NB attempts with bounded backoff, so a
// waiter gives up with LOCK_TIMEOUT and the queue stays free.

import Foundation

final class FileLock {
    private let path: String
    private var fd: Int32 = -1
    private(set) var held = false
    private var lastSeenGeneration: UInt64 = 0

    init(path: String) { self.path = path }

    struct Grant { let generation: UInt64; let dirty: Bool }

    func acquire(timeoutMs: Int, on queue: DispatchQueue, _ done: @escaping (Result<Grant, HostError>) -> Void) {
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        var delayMs = 1
        func attempt() {
            if fd < 0 {
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                if fd < 0 {
                    let e = errno
                    return done(.failure(HostError(code: e == ENOENT ? "LOCK_DIR_MISSING" : "LOCK_IO", message: String(cString: strerror(e)))))
                }
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                held = true
                let gen = readGeneration()
                let dirty = gen != lastSeenGeneration
                lastSeenGeneration = gen
                return done(.success(Grant(generation: gen, dirty: dirty)))
            }
            guard errno == EWOULDBLOCK else {
                return done(.failure(HostError(code: "LOCK_IO", message: String(cString: strerror(errno)))))
            }
            if DispatchTime.now() >= deadline {
                return done(.failure(HostError(code: "LOCK_TIMEOUT", message: "lock not acquired in \(timeoutMs) ms")))
            }
            queue.asyncAfter(deadline: .now() + .milliseconds(delayMs)) { attempt() }   // no thread blocked while waiting
            delayMs = min(delayMs * 2, 50)
        }
        queue.async { attempt() }
    }

    func release(wrote: Bool) -> Result<Void, HostError> {
        guard held, fd >= 0 else { return .failure(HostError(code: "LOCK_NOT_HELD", message: "release without holding")) }
        if wrote {
            lastSeenGeneration = readGeneration() + 1
            writeGeneration(lastSeenGeneration)   // bumped while still holding the lock
        }
        held = false
        flock(fd, LOCK_UN)
        return .success(())
    }

    // The generation lives in the lock file itself (8 bytes, little endian).
    private func readGeneration() -> UInt64 {
        var g: UInt64 = 0
        return pread(fd, &g, 8, 0) == 8 ? UInt64(littleEndian: g) : 0
    }
    private func writeGeneration(_ g: UInt64) {
        var le = g.littleEndian
        _ = pwrite(fd, &le, 8, 0)
    }
}
