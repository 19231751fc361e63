// The Notification Service Extension glue (documentation code).
// iOS may reuse the NSE process for later pushes: one host + core per process,
// created on first use; each request keeps its contentHandler until the core's
// contentReady for that request id arrives (exactly once per request).

import UserNotifications
import JavaScriptCore

let appActiveDarwinNotification = "chat.example.nsekit.app-active" as CFString

final class NotificationService: UNNotificationServiceExtension {
    private static var host: NsekitHost?
    private static var handlers: [String: (UNNotificationContent) -> Void] = [:]
    private static var originals: [String: UNNotificationContent] = [:]

    private static func sharedHost() -> NsekitHost {
        if let h = host { return h }
        let group = FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: "group.chat.example")!
        // `Keychain` is your app-specific keychain helper (kSecAttrAccessibleAfterFirstUnlock items).
        let keys = Keychain.loadQueueKeys()                                       // queueId → hex e2e key, recipient creds
        let h = NsekitHost(groupDir: group, relay: URL(string: "wss://relay.example")!, queueCreds: keys.creds)
        h.store.keyHex = Keychain.loadStoreKeyHex()                               // nil while locked
        h.store.saltHex = Keychain.loadStoreSaltHex()
        h.onContentReady = { requestId, result in
            guard let handler = handlers.removeValue(forKey: requestId) else { return }
            let original = originals.removeValue(forKey: requestId)
            handler(content(from: result, original: original))
            h.collectGarbage()                                                   // NSE memory budget (~24 MB)
        }
        var config: [String: Any] = ["role": "nse", "queueKeys": keys.e2e, "notifiers": keys.notifiers]
        if let mk = Keychain.loadMasterKeyHex() { config["masterKeyHex"] = mk }   // absent → locked → pending inbox
        h.start(config: config)
        // The app became active: it wins. Yield promptly (deliver, drain, close, unlock).
        CFNotificationCenterAddObserver(CFNotificationCenterGetDarwinNotifyCenter(), nil, { _, _, _, _, _ in
            NotificationService.host?.call("yieldRequested")
        }, appActiveDarwinNotification, nil, .deliverImmediately)
        host = h
        return h
    }

    override func didReceive(_ request: UNNotificationRequest, withContentHandler contentHandler: @escaping (UNNotificationContent) -> Void) {
        let h = Self.sharedHost()
        h.jsQueue.async {
            Self.handlers[request.identifier] = contentHandler
            Self.originals[request.identifier] = request.content
        }
        // The push carries sealed notification ids: [{notifierId, sealed}] (never message bodies).
        let nids = request.content.userInfo["nids"] as? [[String: String]] ?? []
        h.call("didReceiveNotification", [["requestId": request.identifier, "nids": nids]])
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
        if let q = messages.last?["queueId"] as? String { c.threadIdentifier = q }
        c.sound = .default
        return c
    }
}
