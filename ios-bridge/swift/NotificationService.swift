// The Notification Service Extension glue (documentation code).
// iOS may reuse the NSE process for later pushes: one host + core per process,
// created on first use; each request keeps its contentHandler until the core's
// contentReady for that request id arrives (exactly once per request).

import UserNotifications
import JavaScriptCore

let appActiveDarwinNotification = "chat.example.nsekit.app-active" as CFString
let appLeftFrontDarwinNotification = "chat.example.nsekit.app-left-front" as CFString

final class NotificationService: UNNotificationServiceExtension {
    private static var host: NsekitHost?
    private static var handlers: [String: (UNNotificationContent) -> Void] = [:]
    private static var originals: [String: UNNotificationContent] = [:]
    /// What the core was last told (touched on the JS queue only): nil before the first check.
    private static var coreUnlocked: Bool?

    private static func sharedHost() -> NsekitHost {
        if let h = host { return h }
        let group = FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: "group.chat.example")!
        // `Keychain` is your app-specific keychain helper (kSecAttrAccessibleAfterFirstUnlock items).
        let keys = Keychain.loadQueueKeys()                                       // queueId → hex e2e key, recipient creds
        let h = NsekitHost(groupDir: group, relay: URL(string: "wss://relay.example")!, queueCreds: keys.creds)
        // contentHandler is called HERE, not when didReceiveNotification's promise resolves (that can be
        // 10–60 s later, after the push's remaining GETs and drain): host-setup.md §6.
        h.onContentReady = { requestId, result in
            guard let handler = handlers.removeValue(forKey: requestId) else { return }
            let original = originals.removeValue(forKey: requestId)
            removeRead(result["read"] as? [[String: Any]] ?? [])
            handler(content(from: result, original: original))
            h.collectGarbage()                                                   // NSE memory budget (~24 MB)
        }
        // Started locked; the first didReceive's lock check (below) unlocks it if the keys can be read.
        // conversations / deviceSyncQueue: a read on another device clears banners here (host-contract.md "Read state").
        var config: [String: Any] = ["role": "nse", "queueKeys": keys.e2e, "notifiers": keys.notifiers, "conversations": keys.conversations]
        if let sync = keys.deviceSyncQueue { config["deviceSyncQueue"] = sync }   // omitted, never null
        h.start(config: config)
        h.jsQueue.async { coreUnlocked = false }
        // The app became active: it wins. Yield promptly (deliver, drain, close, unlock).
        CFNotificationCenterAddObserver(CFNotificationCenterGetDarwinNotifyCenter(), nil, { _, _, _, _, _ in
            NotificationService.host?.call("yieldRequested")
        }, appActiveDarwinNotification, nil, .deliverImmediately)
        // The app left the foreground with no receive in flight: the NSE may GET again.
        CFNotificationCenterAddObserver(CFNotificationCenterGetDarwinNotifyCenter(), nil, { _, _, _, _, _ in
            NotificationService.host?.call("appLeftForeground")
        }, appLeftFrontDarwinNotification, nil, .deliverImmediately)
        host = h
        return h
    }

    override func didReceive(_ request: UNNotificationRequest, withContentHandler contentHandler: @escaping (UNNotificationContent) -> Void) {
        let h = Self.sharedHost()
        // An extension gets no protected-data notifications and iOS reuses this process across lock and
        // unlock: read the lock state now, for THIS request (host-setup.md §2). The *WhenUnlocked* keychain
        // items are the test: readable = unlocked.
        let masterKey = Keychain.loadMasterKeyHex()                              // nil: errSecInteractionNotAllowed
        let storeKey = masterKey == nil ? nil : Keychain.loadStoreKeyHex()
        let salt = Keychain.loadStoreSaltHex()
        h.jsQueue.async {
            Self.handlers[request.identifier] = contentHandler
            Self.originals[request.identifier] = request.content
            let unlocked = masterKey != nil && storeKey != nil
            if unlocked != Self.coreUnlocked {
                Self.coreUnlocked = unlocked
                if unlocked {
                    h.setStoreKey(storeKey, saltHex: salt)                       // before the core's first write
                    h.call("protectedDataDidBecomeAvailable", [masterKey!])
                } else {
                    h.setStoreKey(nil, saltHex: nil)                             // storePut answers STORE_LOCKED now
                    h.call("protectedDataWillBecomeUnavailable")
                }
            }
            // Queued after the lock call on the same serial queue, so the core sees the new state first.
            // The push carries sealed notification ids: userInfo["nids"] = [{notifierId, sealed}] (never bodies).
            let nids = request.content.userInfo["nids"] as? [[String: String]] ?? []
            h.call("didReceiveNotification", [["requestId": request.identifier, "nids": nids]])
        }
    }

    override func serviceExtensionTimeWillExpire() {
        // Best-attempt content for every open request, then close the store at once.
        // If this callback never comes, the core's forcedDeliveryMs timer does the same.
        Self.host?.call("serviceExtensionTimeWillExpire")
    }

    /// NotificationResult → UNNotificationContent.
    static func content(from r: [String: Any], original: UNNotificationContent?) -> UNNotificationContent {
        let messages = r["messages"] as? [[String: Any]] ?? []
        // Nothing new — also while locked: the message was announced already (its inbox marker existed).
        // With the filtering entitlement return UNNotificationContent() instead to show nothing.
        if messages.isEmpty, let o = original { return o }
        let c = UNMutableNotificationContent()
        c.title = r["title"] as? String ?? "New message"
        c.body = r["body"] as? String ?? ""
        if messages.count > 1 { c.subtitle = "\(messages.count) new messages" }
        if let q = messages.last?["queueId"] as? String { c.threadIdentifier = q }   // a tap routes to the thread
        if let id = messages.last?["msgId"] as? String { c.userInfo = ["msgId": id] }  // a read elsewhere removes by msgId
        if let b = r["badge"] as? Int { c.badge = NSNumber(value: b) }                 // absent: leave the badge as it is
        c.sound = .default
        return c
    }

    /// Reads on another device the core applied (`result.read`): their delivered banners go.
    static func removeRead(_ reads: [[String: Any]]) {
        let ids = Set(reads.flatMap { $0["msgIds"] as? [String] ?? [] })
        if ids.isEmpty { return }
        let center = UNUserNotificationCenter.current()
        center.getDeliveredNotifications { delivered in
            center.removeDeliveredNotifications(withIdentifiers: delivered.filter { n in
                (n.request.content.userInfo["msgId"] as? String).map(ids.contains) ?? false
            }.map { $0.request.identifier })
        }
    }
}
