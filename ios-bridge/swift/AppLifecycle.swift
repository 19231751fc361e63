// The app's glue (documentation code): lifecycle events → facade calls.
// host-contract.md "Lifecycle mapping" and host-setup.md §5 (import at launch and activation, retry).

import UIKit

final class AppLifecycle {
    let host: NsekitHost
    private var task: UIBackgroundTaskIdentifier = .invalid
    private var importRetryDelay: TimeInterval = 1

    init(host: NsekitHost) {
        self.host = host
        host.onPhase = { [weak self] phase in
            // 'suspended' = store closed + lock free: safe to be frozen (no 0xdead10cc).
            if phase == "suspended" { DispatchQueue.main.async { self?.endTask() } }
        }
        host.onSessionEvent = { [weak self] name, fields in
            switch name {
            case "left-front":   // out of the foreground with no receive in flight: the NSE may GET again
                CFNotificationCenterPostNotification(CFNotificationCenterGetDarwinNotifyCenter(),
                                                     CFNotificationName(appLeftFrontDarwinNotification), nil, nil, true)
            case "error" where fields["where"] as? String == "inbox import":
                DispatchQueue.main.async { self?.scheduleImportRetry() }
            default: break
            }
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
        // The core calls lockRequestYield (yield record + "app active" for the NSE), then runs the wake,
        // whose first step imports the pending inbox.
        nc.addObserver(forName: UIApplication.didBecomeActiveNotification, object: nil, queue: .main) { [weak self] _ in
            self?.host.call("appDidBecomeActive")
        }
        nc.addObserver(forName: UIApplication.protectedDataWillBecomeUnavailableNotification, object: nil, queue: .main) { [weak self] _ in
            self?.host.setStoreKey(nil, saltHex: nil)
            self?.host.call("protectedDataWillBecomeUnavailable")
        }
        nc.addObserver(forName: UIApplication.protectedDataDidBecomeAvailableNotification, object: nil, queue: .main) { [weak self] _ in
            self?.importNow()
        }
        // Created after the app became active (launch): the launch's wake must run too, or messages
        // received while locked stay invisible until the next activation.
        if UIApplication.shared.applicationState == .active { host.call("appDidBecomeActive") }
    }

    /// Unlocked: hand the key back; while active the core imports the pending inbox at once.
    private func importNow() {
        guard let mk = Keychain.loadMasterKeyHex() else { return }   // locked again meanwhile
        host.setStoreKey(Keychain.loadStoreKeyHex(), saltHex: Keychain.loadStoreSaltHex())
        host.call("protectedDataDidBecomeAvailable", [mk]) { [weak self] summary, error in
            // summary: {records, notified, inserted, duplicates, rejected, torn, bad}; on error the claim stays.
            DispatchQueue.main.async {
                if error != nil { self?.scheduleImportRetry() } else { self?.importRetryDelay = 1 }
            }
        }
    }

    /// A failed import is retried with backoff while the app is active (host-setup.md §5).
    private func scheduleImportRetry() {
        let delay = importRetryDelay
        importRetryDelay = min(importRetryDelay * 2, 60)
        DispatchQueue.main.asyncAfter(deadline: .now() + delay) { [weak self] in
            guard UIApplication.shared.applicationState == .active, UIApplication.shared.isProtectedDataAvailable else { return }
            self?.importNow()
        }
    }

    private func endTask() {
        if task != .invalid { UIApplication.shared.endBackgroundTask(task); task = .invalid }
    }
}
