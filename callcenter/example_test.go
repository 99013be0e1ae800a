package callcenter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fsivr/fsivr/callcenter"
)

// headers is a tiny AMI message for the example.
type headers map[string]string

func (h headers) Get(k string) string {
	for name, v := range h {
		if strings.EqualFold(name, k) {
			return v
		}
	}
	return ""
}

func ExampleModel() {
	m := callcenter.NewModel(callcenter.ModelConfig{})
	for _, ev := range []headers{
		{"Event": "QueueMemberAdded", "Queue": "support", "MemberName": "Alice", "Interface": "Local/510@agent/n", "Status": "1", "Paused": "0"},
		{"Event": "QueueMemberPause", "Queue": "support", "MemberName": "Alice", "Interface": "Local/510@agent/n", "Status": "1", "Paused": "1", "PausedReason": "lunch", "LastPause": "1796112593"},
		{"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "c1", "CallerIDNum": "5551234", "Position": "1", "Count": "1"},
	} {
		for _, d := range m.Apply(ev) {
			b, _ := d.MarshalJSON()
			fmt.Println(string(b))
		}
	}
	// Output:
	// {"type":"agentName","agent":"510","name":"Alice"}
	// {"type":"queueMemberStatus","agent":"510","queue":"support","status":"not_inuse"}
	// {"type":"queueMemberStatus","agent":"510","queue":"support","status":"paused","pausedReason":"lunch","pausedSince":1796112593}
	// {"type":"queueCount","queue":"support","count":1}
}

func ExampleScope_Allows() {
	sub := callcenter.Scope{Agents: []string{"510"}, Queues: []string{"support"}}
	for _, e := range []callcenter.Event{
		{Type: callcenter.TypeQueueMemberStatus, Agent: "510", Queue: "support", Status: "not_inuse"},
		{Type: callcenter.TypeQueueMemberStatus, Agent: "510", Queue: "sales", Status: "not_inuse"},
		{Type: callcenter.TypeQueueCount, Queue: "support", Count: 2},
		{Type: callcenter.TypeStale},
	} {
		fmt.Println(e.Type, e.Queue, sub.Allows(&e))
	}
	// Output:
	// queueMemberStatus support true
	// queueMemberStatus sales false
	// queueCount support true
	// stale  true
}

func ExampleHub() {
	hub := callcenter.NewHub(callcenter.HubConfig{})
	hub.Publish(callcenter.Event{Type: callcenter.TypeQueueCount, Queue: "support", Count: 1})
	_, opening := hub.Subscribe(callcenter.Scope{Queues: []string{"support"}}, "wallboard", "")
	fmt.Println(opening.Resumed, opening.Reason, len(opening.Frames))
	// Output:
	// false new 3
}

// How a daemon (cmd/dialer) wires the stream: one Hub, one Service (the
// shared AMI connection) and the Handler on callcenter.Paths.
func Example_mount() {
	ctx := context.Background()
	hub := callcenter.NewHub(callcenter.HubConfig{Retention: 10 * time.Minute})
	svc, err := callcenter.NewService(callcenter.ServiceConfig{
		Addr: "127.0.0.1:5038", Username: "dialer", Secret: "secret", Hub: hub,
		AgentChannel: "PJSIP/%s", MemberInterface: "PJSIP/%s", OriginateContext: "c2c",
	})
	if err != nil {
		panic(err)
	}
	go func() { _ = svc.Run(ctx) }() // reconnects until ctx ends
	h, err := callcenter.NewHandler(callcenter.HandlerConfig{
		Hub: hub, Commands: svc, Logger: slog.Default(),
		Tokens: []callcenter.Token{{Name: "wallboard", SHA256: callcenter.HashToken("s3cret"),
			Agents: []string{callcenter.Any}, Queues: []string{"support"}}},
	})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	mux := http.NewServeMux()
	for _, p := range callcenter.Paths {
		mux.Handle(p, h)
	}
	_ = http.ListenAndServe("127.0.0.1:8090", mux)
}
