// Package pretest runs pretests: scenario files (NAME.test.yaml, described
// by Schema) that prove workflows on fictitious customers before they touch
// a real one.
//
// Each scenario runs the real durable runtime on a temporary SQLite store,
// with the real default catalog whose every connector is replaced by its
// recording twin (nothing is sent, nothing reaches the network), the shop's
// webhooks mapped by the real adapters, and a virtual clock. The clock
// moves only when the runtime has settled (runtime.Runtime.Settle: nothing
// in flight, nothing due now), and then jumps straight to the next thing
// due (runtime.Runtime.NextDue) or the next event of the scenario, so that
// a scenario spanning weeks runs in a fraction of a second. The
// expectations are checked against what the recording twin saw and what
// the store holds, and every failure names the line of the file that
// expected otherwise.
package pretest
