package calllog_test

import (
	"fmt"

	"github.com/fsivr/fsivr/calllog"
)

// Keys names what a consumer reads: with three shards, one stream per shard
// (read each with its own XREADGROUP: one read across them is CROSSSLOT in a
// Redis Cluster), and every key of one call under that call's shard tag.
func ExampleKeys() {
	keys, err := calllog.Config{Shards: 3}.Keys()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys.StreamKeys())
	call := "6f1c2a52-0000-4000-8000-000000000001"
	fmt.Println(keys.Shard(call), keys.SummaryKey(call))
	// Output:
	// [{fsivr:0}:calls {fsivr:1}:calls {fsivr:2}:calls]
	// 2 {fsivr:2}:call:6f1c2a52-0000-4000-8000-000000000001
}

// FormatEntry is the readable line of `ivrctl tail`; values a caller could
// have chosen are quoted, so they cannot forge lines or terminal escapes.
func ExampleFormatEntry() {
	fmt.Println(calllog.FormatEntry("1700000000000-0", map[string]string{
		"ts": "2026-11-23T13:47:45.123Z", "call": "4f0c", "flow": "sales", "flow_version": "3",
		"kind": "dtmf", "node": "menu", "value": "1", "caller": "+1 555\x1b[31m",
	}))
	// Output:
	// 2026-11-23T13:47:45.123Z 1700000000000-0 call=4f0c sales@3 dtmf node=menu value=1 caller="+1 555\x1b[31m"
}
