// The app's glue (documentation code): iOS events → facade calls, session events → iOS.
// host-contract.md "Lifecycle mapping", host-setup.md §5 (import at launch and activation,
// retry), docs/notifications.md "The host" (threads, badge, tap), docs/processes.md
// "Background windows" (refresh task, silent push, the setting).

import UIKit
import BackgroundTasks
import UserNotifications

final class AppLifecycle: NSObject, UNUserNotificationCenterDelegate {
    /// The one refresh request's identifier: list it in Info.plist's BGTaskSchedulerPermittedIdentifiers.
    static let refreshTaskId = "chat.nsekit.refresh"
    private static let backgroundRefreshKey = "nsekit.backgroundRefresh"   // the user's setting (UserDefaults)
    private static let pushTokenKey = "nsekit.pushToken"                   // the last token iOS gave, hex
    /// What iOS grants a BGAppRefreshTask or a content-available push (~30 s); the core keeps to 80 % / 90 % of it.
    private static let windowBudgetMs = 30_000

    let host: NsekitHost
    private var task: UIBackgroundTaskIdentifier = .invalid
    private var importRetryDelay: TimeInterval = 1
    private var pushToken: String?

    /// From application(_:didFinishLaunchingWithOptions:), before it returns (BGTaskScheduler wants the
    /// refresh handler registered by then): the host, the app core, the observers. `mode`: "instant" (SUB)
    /// or "lowPower" (signed status polls; needs the queues' status keys).
    static func launch(relay: URL, statusBase: URL, mode: String = "instant") -> AppLifecycle {
        let group = FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: "group.chat.example")!
        // `Keychain` is your app-specific keychain helper (host-setup.md §2): e2e keys, recipient and sender
        // credentials, status keys (AfterFirstUnlock), master and store keys (WhenUnlocked).
        let keys = Keychain.loadQueueKeys()
        let host = NsekitHost(groupDir: group, relay: relay, queueCreds: keys.creds, senderCreds: keys.senderCreds, statusBase: statusBase)
        let defaults = UserDefaults.standard
        let token = defaults.string(forKey: pushTokenKey)
        var config: [String: Any] = [
            "role": "app", "queueKeys": keys.e2e, "sendQueues": Array(keys.senderCreds.keys), "mode": mode,
            "backgroundRefresh": defaults.bool(forKey: backgroundRefreshKey),
            // Given (null until iOS gave one), the core registers the token itself: transportNsub per queue.
            "pushToken": token ?? NSNull(),
            "appVersion": Bundle.main.infoDictionary?["CFBundleShortVersionString"] as? String ?? "1.0.0",
        ]
        if mode == "lowPower" { config["statusKeys"] = keys.statusKeys }
        // A read on another device (host-contract.md "Read state"): the queues' conversations, this device's sync queue.
        config["conversations"] = keys.conversations
        if let sync = keys.deviceSyncQueue { config["deviceSyncQueue"] = sync }
        if let state = NsekitHost.loadPushTokenState() { config["pushTokenState"] = state }   // what pushTokenSave saved
        // Unlocked now: the store key to the host (before the core's first store call), the master key to the core.
        if UIApplication.shared.isProtectedDataAvailable, let mk = Keychain.loadMasterKeyHex() {
            host.setStoreKey(Keychain.loadStoreKeyHex(), saltHex: Keychain.loadStoreSaltHex())
            config["masterKeyHex"] = mk
        }
        host.start(config: config)
        return AppLifecycle(host: host, pushToken: token)
    }

    private init(host: NsekitHost, pushToken: String?) {
        self.host = host
        self.pushToken = pushToken
        super.init()
        host.onPhase = { [weak self] phase in
            // 'suspended' = store closed + lock free: safe to be frozen (no 0xdead10cc).
            if phase == "suspended" { DispatchQueue.main.async { self?.endTask() } }
        }
        host.onSessionEvent = { [weak self] name, fields in self?.sessionEvent(name, fields) }
        UNUserNotificationCenter.current().delegate = self
        registerRefreshTask()
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

    // MARK: - what the UI and the app delegate call

    /// Queue a text message (durable in the outbox first; sent now if active, else by the next wake or
    /// window). Keep `clientId` with the draft: a retry of the same message must reuse it (the relay dedupes).
    /// `done(nil)` once queued, else the error's code (STORE_LOCKED while locked, PROTO_NO_QUEUE, …).
    func send(_ text: String, to queueId: String, clientId: String = UUID().uuidString, done: @escaping (String?) -> Void) {
        host.call("send", [queueId, text, clientId]) { _, error in
            let code = error?.forProperty("code")?.toString()
            DispatchQueue.main.async { done(error == nil ? nil : code ?? "BRIDGE_HOST_ERROR") }
        }
    }

    /// didRegisterForRemoteNotificationsWithDeviceToken: a token other than the one the core has is registered
    /// (at once while active, else at the next wake). Kept for the next launch's `config.pushToken`.
    func didRegister(deviceToken: Data) {
        let hex = deviceToken.map { String(format: "%02x", $0) }.joined()
        guard hex != pushToken else { return }
        pushToken = hex
        UserDefaults.standard.set(hex, forKey: Self.pushTokenKey)
        host.call("pushTokenChanged", [hex])
    }

    /// The account screen. Logout: live delivery ends and every queue's token is deactivated at the relay
    /// (NDEL, owed until sent); the store and the outbox stay. Login: registered again, what waited is fetched.
    func logout() { host.call("logout") }
    func login() { host.call("login") }

    /// The Settings toggle: stored for the next launch's `config.backgroundRefresh`; the core answers with
    /// sessionEvent("bg-refresh") (submit or cancel the request).
    func setBackgroundRefresh(_ on: Bool) {
        UserDefaults.standard.set(on, forKey: Self.backgroundRefreshKey)
        host.call("settings", [["backgroundRefresh": on]])
    }

    /// application(_:didReceiveRemoteNotification:fetchCompletionHandler:) for a `content-available` push: a
    /// window. The sender's server names the queue in the payload (`userInfo["queueId"]`).
    func didReceiveSilentPush(_ userInfo: [AnyHashable: Any], completion: @escaping (UIBackgroundFetchResult) -> Void) {
        window("silent-push", queueId: userInfo["queueId"] as? String) { result in
            guard let r = result else { return completion(.failed) }
            completion((r["notified"] as? Int ?? 0) > 0 || (r["sent"] as? Int ?? 0) > 0 ? .newData : .noData)
        }
    }

    // MARK: - background windows

    private func registerRefreshTask() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: Self.refreshTaskId, using: nil) { [weak self] task in
            guard let self = self else { return task.setTaskCompleted(success: false) }
            // The core starts no work after 80 % of the budget and is suspended (store closed, lock free) by
            // 90 %: the expiration handler has nothing more to do. The window also submits the next request.
            task.expirationHandler = {}
            self.window("refresh", queueId: nil) { result in task.setTaskCompleted(success: result != nil) }
        }
    }

    /// One window; `done` gets {kind, skipped?, expired, sent, polled, notified} on main, nil if it rejected.
    private func window(_ kind: String, queueId: String?, _ done: @escaping ([String: Any]?) -> Void) {
        var args: [Any] = [kind, Self.windowBudgetMs]
        if let q = queueId { args.append(q) }
        host.call("window", args) { value, error in
            let result = error == nil ? value?.toDictionary() as? [String: Any] : nil
            DispatchQueue.main.async { done(result) }
        }
    }

    // MARK: - what the core reports (on the JS queue)

    private func sessionEvent(_ name: String, _ f: [String: Any]) {
        switch name {
        case "left-front":   // out of the foreground with no receive in flight: the NSE may GET again
            CFNotificationCenterPostNotification(CFNotificationCenterGetDarwinNotifyCenter(),
                                                 CFNotificationName(appLeftFrontDarwinNotification), nil, nil, true)
        case "notification":   // a new message: plaintext, never log it
            post(id: f["msgId"] as? String, title: f["title"] as? String ?? "", body: f["body"] as? String ?? "",
                 thread: f["threadId"] as? String ?? f["queueId"] as? String, badge: f["badge"] as? Int)
        case "local-notification":   // a window's status poll: a message waits at the relay (nothing downloaded)
            post(id: nil, title: f["title"] as? String ?? "", body: f["body"] as? String ?? "", thread: f["queueId"] as? String, badge: nil)
        case "bg-refresh":
            let id = f["id"] as? String ?? Self.refreshTaskId
            if f["state"] as? String == "scheduled" {
                // The same identifier replaces the pending request: there is never a second one.
                do { try BGTaskScheduler.shared.submit(BGAppRefreshTaskRequest(identifier: id)) } catch { report("bg-refresh submit", "\(error)") }
            } else {
                BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: id)
            }
        case "thread-read":   // the user opened the thread (a tap), or read it on another device (`remote`)
            removeDelivered(thread: f["threadId"] as? String, only: f["remote"] as? Bool == true ? f["msgIds"] as? [String] : nil)
            if let n = f["badge"] as? Int { setBadge(n) }
        case "badge":
            if let n = f["count"] as? Int { setBadge(n) }
        case "error":
            if f["where"] as? String == "inbox import" { DispatchQueue.main.async { self.scheduleImportRetry() } }
            report(f["where"] as? String ?? "?", f["code"] as? String ?? "?")   // the core retries failed wakes itself
        default: break   // diagnostic: stored, acked, imported, sync, rt, wake, outbox, push-token, suspended, …
        }
    }

    private func post(id: String?, title: String, body: String, thread: String?, badge: Int?) {
        let c = UNMutableNotificationContent()
        c.title = title
        c.body = body
        c.sound = .default
        if let t = thread { c.threadIdentifier = t }                 // threadId = queueId: a tap routes to it
        if let b = badge { c.badge = NSNumber(value: b) }            // absent: leave the badge as it is
        if let id = id { c.userInfo = ["msgId": id] }                // a remote thread-read removes by msgId
        UNUserNotificationCenter.current().add(UNNotificationRequest(identifier: id ?? UUID().uuidString, content: c, trigger: nil))
    }

    private func removeDelivered(thread: String?, only msgIds: [String]?) {
        let center = UNUserNotificationCenter.current()
        center.getDeliveredNotifications { delivered in
            let ids = delivered.filter { n in
                if let msgIds = msgIds { return (n.request.content.userInfo["msgId"] as? String).map { msgIds.contains($0) } ?? false }
                return n.request.content.threadIdentifier == thread
            }.map { $0.request.identifier }
            center.removeDeliveredNotifications(withIdentifiers: ids)
        }
    }

    private func setBadge(_ n: Int) {
        if #available(iOS 16.0, *) { UNUserNotificationCenter.current().setBadgeCount(n) }
        else { DispatchQueue.main.async { UIApplication.shared.applicationIconBadgeNumber = n } }
    }

    private func report(_ where: String, _ code: String) { NSLog("nsekit error in %@: %@", `where`, code) }

    // MARK: - UNUserNotificationCenterDelegate

    /// A tap: the app comes up routed to the conversation — the wake runs with reason `tap`, then the thread is
    /// read (`thread-read`). The activation's own appDidBecomeActive() comes too; the second wake finds nothing new.
    func userNotificationCenter(_ center: UNUserNotificationCenter, didReceive response: UNNotificationResponse,
                                withCompletionHandler completionHandler: @escaping () -> Void) {
        let thread = response.notification.request.content.threadIdentifier
        host.call("appDidBecomeActive", thread.isEmpty ? [] : [thread])
        completionHandler()
    }

    /// In front the app shows its own messages; a banner is this app's choice.
    func userNotificationCenter(_ center: UNUserNotificationCenter, willPresent notification: UNNotification,
                                withCompletionHandler completionHandler: @escaping (UNNotificationPresentationOptions) -> Void) {
        completionHandler([.banner, .list, .sound])
    }

    // MARK: - import retry and the background task

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
