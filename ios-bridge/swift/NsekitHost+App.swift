// The app's host functions (documentation code): what nsekit-app.js calls besides
// the NSE's 17 (host-contract.md, "App" entries; APP_HOST_FUNCTIONS). Installed by
// NsekitHost.makeHostObject for role "app" only — the NSE's host has none of them.
// Same rules as NsekitHost.swift: every block runs on the JS queue, async ones hop
// to the io queue (SQLite, files) or the transport's queue (network) and answer
// through finish(done, …), which hops back.

import Foundation
import JavaScriptCore

extension NsekitHost {
    /// UserDefaults key of what pushTokenSave last saved (handed back as config.pushTokenState).
    static let pushTokenStateKey = "nsekit.pushTokenState"

    /// The state pushTokenSave last saved, for `config.pushTokenState` at launch (nil at the first launch).
    static func loadPushTokenState() -> [String: Any]? {
        guard let d = UserDefaults.standard.data(forKey: pushTokenStateKey) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }

    func installAppFunctions(_ set: (String, Any) -> Void) {
        // the yield request — sync, never throw. The NSE's lockYieldPending reads the record; the Darwin
        // notification reaches an NSE that is running now (its host answers with yieldRequested()).
        let yieldPath = self.yieldPath
        set("lockRequestYield", { () in
            let d = try? JSONSerialization.data(withJSONObject: ["ts": Date().timeIntervalSince1970 * 1000])
            FileManager.default.createFile(atPath: yieldPath, contents: d)   // atomic enough: a torn read is "no record"
            CFNotificationCenterPostNotification(CFNotificationCenterGetDarwinNotifyCenter(),
                                                 CFNotificationName(appActiveDarwinNotification), nil, nil, true)
        } as @convention(block) () -> Void)
        set("lockWithdrawYield", { () in try? FileManager.default.removeItem(atPath: yieldPath) } as @convention(block) () -> Void)

        // store: cursors (a read without the lock; the write inside it) and the outbox — async, io queue
        set("storeGetCursor", { [unowned self] (queueId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.cursor(queueId).map { $0 as Any }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("storeSetCursor", { [unowned self] (queueId: String, cursor: [String: Any], done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.setCursor(queueId, cursor).map { NSNull() as Any }) }
        } as @convention(block) (String, [String: Any], JSValue) -> Void)
        set("outboxAdd", { [unowned self] (item: [String: Any], done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.outboxAdd(item).map { $0 as Any }) }
        } as @convention(block) ([String: Any], JSValue) -> Void)
        set("outboxPending", { [unowned self] (done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.outboxPending().map { $0 as Any }) }
        } as @convention(block) (JSValue) -> Void)
        set("outboxMark", { [unowned self] (clientId: String, state: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.outboxMark(clientId, state: state).map { NSNull() as Any }) }
        } as @convention(block) (String, String, JSValue) -> Void)

        // pending inbox: the import's claim — async, io queue
        set("inboxClaim", { [unowned self] (done: JSValue) in
            self.ioQueue.async { self.finish(done, self.inbox.claim().map { $0.map { $0 as Any } ?? NSNull() }) }
        } as @convention(block) (JSValue) -> Void)
        set("inboxClaimDone", { [unowned self] (claimId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.inbox.claimDone(claimId).map { NSNull() as Any }) }
        } as @convention(block) (String, JSValue) -> Void)

        // transport: the app's connection. The callbacks the core hands over are JSValues kept by the
        // transport with that connection (or subscription) and called on the JS queue, never inline.
        // (A JSValue keeps its context alive; the host object's blocks hold `self` unowned, so no cycle.)
        set("transportConnect", { [unowned self] (onClose: JSValue, onEnd: JSValue, done: JSValue) in
            let q = self.jsQueue
            self.transport.connect(onClose: { q.async { onClose.call(withArguments: []) } },
                                   onEnd: { queueId in q.async { onEnd.call(withArguments: [queueId]) } }) { r in
                self.finish(done, r.map { NSNull() as Any })
            }
        } as @convention(block) (JSValue, JSValue, JSValue) -> Void)
        set("transportSubscribe", { [unowned self] (queueId: String, onMessage: JSValue, done: JSValue) in
            let q = self.jsQueue
            self.transport.subscribe(queueId, onMessage: { m in q.async { onMessage.call(withArguments: [m]) } }) { r in
                self.finish(done, r.map { NSNull() as Any })
            }
        } as @convention(block) (String, JSValue, JSValue) -> Void)
        set("transportUnsubscribe", { [unowned self] (queueId: String, done: JSValue) in
            self.transport.unsubscribe(queueId) { r in self.finish(done, r.map { NSNull() as Any }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("transportSend", { [unowned self] (queueId: String, body: String, notification: Bool, clientId: String, done: JSValue) in
            self.transport.send(queueId, body: body, notification: notification, clientId: clientId) { r in
                self.finish(done, r.map { $0 as Any })
            }
        } as @convention(block) (String, String, Bool, String, JSValue) -> Void)
        set("transportPing", { [unowned self] (done: JSValue) in
            self.transport.ping { r in self.finish(done, r.map { NSNull() as Any }) }
        } as @convention(block) (JSValue) -> Void)
        set("statusGet", { [unowned self] (path: String, done: JSValue) in
            self.transport.status(path) { r in self.finish(done, r.map { $0 as Any }) }
        } as @convention(block) (String, JSValue) -> Void)

        // what the app session reports — sync, never throws (AppLifecycle acts on it)
        set("sessionEvent", { [unowned self] (name: String, fields: [String: Any]) in
            self.onSessionEvent?(name, fields)
        } as @convention(block) (String, [String: Any]) -> Void)

        // push token (needed with config.pushToken: the app registers the device token itself)
        set("transportNsub", { [unowned self] (queueId: String, deviceToken: String, platform: String, appVersion: String, done: JSValue) in
            self.transport.nsub(queueId, deviceToken: deviceToken, platform: platform, appVersion: appVersion) { r in
                // The NSE opens the push's sealed ids with this answer (its config.notifiers): keep it in the
                // keychain (AfterFirstUnlock, shared access group). A repeated NSUB answers the same.
                if case .success(let nid) = r, let id = nid["notifierId"] as? String,
                   let key = (nid["notifierKey"] as? String).flatMap({ Data(base64Encoded: $0) }), key.count == 32 {
                    Keychain.saveNotifier(notifierId: id, queueId: queueId, keyHex: key.map { String(format: "%02x", $0) }.joined())
                }
                self.finish(done, r.map { $0 as Any })
            }
        } as @convention(block) (String, String, String, String, JSValue) -> Void)
        set("transportNdel", { [unowned self] (queueId: String, done: JSValue) in
            self.transport.ndel(queueId) { r in self.finish(done, r.map { NSNull() as Any }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("pushTokenSave", { (state: [String: Any]) in
            // UserDefaults holds no NSNull (`registered: null`): keep the JSON text. Must not throw.
            guard let d = try? JSONSerialization.data(withJSONObject: state) else { return }
            UserDefaults.standard.set(d, forKey: NsekitHost.pushTokenStateKey)
        } as @convention(block) ([String: Any]) -> Void)
    }
}
