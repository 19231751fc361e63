// The app's glue (documentation code): lifecycle events → facade calls.

import UIKit

final class AppLifecycle {
    let host: NsekitHost
    private var task: UIBackgroundTaskIdentifier = .invalid

    init(host: NsekitHost) {
        self.host = host
        host.onPhase = { [weak self] phase in
            // 'suspended' = store closed + lock free: safe to be frozen (no 0xdead10cc).
            if phase == "suspended" { DispatchQueue.main.async { self?.endTask() } }
        }
        let nc = NotificationCenter.default
        nc.addObserver(forName: UIApplication.didEnterBackgroundNotification, object: nil, queue: .main) { [weak self] _ in
            guard let self = self else { return }
            self.task = UIApplication.shared.beginBackgroundTask(withName: "nsekit-drain") { [weak self] in
                // Expiration: drain within drainDeadlineMs; the task ends on 'suspended'.
                self?.host.call("backgroundTaskWillExpire")
            }
            self.host.call("appDidEnterBackground")
        }
        nc.addObserver(forName: UIApplication.didBecomeActiveNotification, object: nil, queue: .main) { [weak self] _ in
            // Tell a running NSE to yield first, then reopen our own classes.
            CFNotificationCenterPostNotification(CFNotificationCenterGetDarwinNotifyCenter(),
                                                 CFNotificationName(appActiveDarwinNotification), nil, nil, true)
            self?.host.call("appDidBecomeActive")
        }
        nc.addObserver(forName: UIApplication.protectedDataWillBecomeUnavailableNotification, object: nil, queue: .main) { [weak self] _ in
            self?.host.store.keyHex = nil
            self?.host.call("protectedDataWillBecomeUnavailable")
        }
        nc.addObserver(forName: UIApplication.protectedDataDidBecomeAvailableNotification, object: nil, queue: .main) { [weak self] _ in
            guard let self = self, let mk = Keychain.loadMasterKeyHex() else { return }
            self.host.store.keyHex = Keychain.loadStoreKeyHex()
            self.host.call("protectedDataDidBecomeAvailable", [mk]) { summary, error in
                // summary: {records, inserted, duplicates, rejected, torn, bad}; on error the claim stays for next time.
                if let e = error { print("inbox import failed: \(e)") } else { print("inbox imported: \(summary!)") }
            }
        }
    }

    private func endTask() {
        if task != .invalid { UIApplication.shared.endBackgroundTask(task); task = .invalid }
    }
}
