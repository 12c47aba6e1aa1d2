// Package commerce holds storeflow's canonical commerce events — one JSON
// Schema per type, embedded from schemas/ — and the small API every shop
// webhook adapter (commerce/shopify, commerce/woocommerce, commerce/generic)
// implements.
//
// A webhook is handled in four steps, each its own method so that the HTTP
// layer can answer each failure with the right status:
//
//	shop, err := a.Shop(h, body)        // ErrPing → 200; ErrNoShop → 400
//	secrets := lookUp(shop)             // the shop's signing secrets, current first
//	err = a.Verify(h, body, secrets)    // ErrSignature → 401
//	d, err := a.Decode(h, body, cfg)    // ErrUnmappable → 422 and the dead-letter list
//
// Decode returns a Delivery: the raw body, the platform headers kept, and the
// canonical events. Each Event has an id that is stable across repeated
// deliveries of the same fact, so that the event log's (source, id)
// deduplication makes a retry change nothing, and an Ordering (resource key
// and version time) so that a later layer can refuse data older than what
// it already holds. Event.Envelope renders the CloudEvents 1.0 JSON form the
// runtime ingests.
package commerce
