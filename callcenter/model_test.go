package callcenter

import (
	"reflect"
	"strings"
	"testing"
)

// The ExtensionStatus Status/StatusText pairs of 60_hints_extensionstatus,
// each mapped to its pbxis word: the test reads every pair the capture has.
func TestExtensionStatusMappingFromCapture(t *testing.T) {
	want := map[string]DeviceState{
		"Idle": DeviceNotInUse, "InUse": DeviceInUse, "Busy": DeviceBusy, "Unavailable": DeviceUnavailable,
		"Ringing": DeviceRinging, "InUse&Ringing": DeviceRingInUse, "Hold": DeviceOnHold, "Unknown": DeviceUnknown,
	}
	seen := map[string]bool{}
	for _, m := range loadCapture(t, "60_hints_extensionstatus") {
		if m.Get("Event") != "ExtensionStatus" && m.Get("Message") != "Extension Status" {
			continue
		}
		text := m.Get("StatusText")
		w, ok := want[text]
		if !ok {
			t.Fatalf("capture has StatusText %q the test does not know", text)
		}
		if got := ExtensionStatus(m.Get("Status")); got != w {
			t.Errorf("ExtensionStatus(%s %s) = %v, want %v", m.Get("Status"), text, got, w)
		}
		seen[text] = true
	}
	for text := range want {
		if !seen[text] {
			t.Errorf("capture 60 shows no %s", text)
		}
	}
}

// 61 sets DEVICE_STATE(Custom:agent500) through every state with Setvar;
// the QueueMemberStatus that follows each Setvar carries the numeric
// Status, and the DeviceStateChange in 60 the text.
func TestMemberAndDeviceStatusMappingFromCapture(t *testing.T) {
	want := map[string]DeviceState{
		"NOT_INUSE": DeviceNotInUse, "INUSE": DeviceInUse, "BUSY": DeviceBusy, "INVALID": DeviceUnavailable,
		"UNAVAILABLE": DeviceUnavailable, "RINGING": DeviceRinging, "RINGINUSE": DeviceRingInUse, "ONHOLD": DeviceOnHold,
	}
	var set string
	checked := map[string]bool{}
	for _, m := range loadCapture(t, "61_queue_members_pause_add_remove") {
		if !m.fromSrv && m.Get("Action") == "Setvar" && strings.HasPrefix(m.Get("Variable"), "DEVICE_STATE(Custom:agent500)") {
			set = m.Get("Value")
			continue
		}
		if m.Get("Event") == "QueueMemberStatus" && m.Get("StateInterface") == "Custom:agent500" && set != "" {
			if got := MemberStatus(m.Get("Status")); got != want[set] {
				t.Errorf("Setvar %s: QueueMemberStatus Status %s = %v, want %v", set, m.Get("Status"), got, want[set])
			}
			checked[set] = true
			set = ""
		}
	}
	if len(checked) < 8 {
		t.Errorf("member states checked from the capture: %v, want all 8", checked)
	}
	texts := 0
	for _, m := range loadCapture(t, "60_hints_extensionstatus") {
		if m.Get("Event") == "DeviceStateChange" && m.Get("Device") == "Custom:agent500" {
			w, ok := want[m.Get("State")]
			if !ok {
				t.Fatalf("unknown State %q", m.Get("State"))
			}
			if got := DeviceStateText(m.Get("State")); got != w {
				t.Errorf("DeviceStateText(%s) = %v, want %v", m.Get("State"), got, w)
			}
			texts++
		}
	}
	if texts < 7 {
		t.Errorf("only %d DeviceStateChange checked", texts)
	}
	if MemberStatus("0") != DeviceUnknown || DeviceStateText("UNKNOWN") != DeviceUnknown {
		t.Error("unknown must map to unknown")
	}
}

func TestAgentOfInterface(t *testing.T) {
	for in, want := range map[string]string{
		"Local/510@agent/n":         "510",  // 62
		"Local/1001@agentrequest/n": "1001", // 70
		"Agent:1001":                "1001",
		"SIP/510":                   "510",
		"PJSIP/alice":               "alice",
		"Custom:agent500":           "agent500",
		"nonsense":                  "",
	} {
		if got := AgentOfInterface(in); got != want {
			t.Errorf("AgentOfInterface(%q) = %q, want %q", in, got, want)
		}
	}
}

func ofType(evs []Event, typ Type) []Event {
	var out []Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Agent login by QueueAdd with a name, pause with a reason and since when,
// unpause, logoff by QueueRemove (61).
func TestReplayMemberLifecycle(t *testing.T) {
	m := NewModel(ModelConfig{})
	evs := replayFields(m, rawLiveEvents(t, "61_queue_members_pause_add_remove"))
	names := ofType(evs, TypeAgentName)
	if len(names) != 2 || names[0] != (Event{Type: TypeAgentName, Agent: "500", Name: "Agent Smith"}) || names[1].Name != "Agent Jones" {
		t.Errorf("agentName events = %+v", names)
	}
	var smith []string
	for _, e := range ofType(evs, TypeQueueMemberStatus) {
		if e.Agent == "500" && e.Queue == "agentsq" {
			s := e.Status
			if s == StatusPaused {
				s += "(" + e.PausedReason + ")"
				if e.PausedSince != 1796112593 {
					t.Errorf("pausedSince = %d, want LastPause 1796112593", e.PausedSince)
				}
			}
			smith = append(smith, s)
		}
	}
	want := []string{"not_inuse", "inuse", "ringing", "ringinuse", "onhold", "busy", "unavailable", "not_inuse",
		"paused(lunch)", "paused(break)", "not_inuse", "loggedoff"}
	if !reflect.DeepEqual(smith, want) {
		t.Errorf("agent 500 in agentsq:\n got %v\nwant %v", smith, want)
	}
	// a hint's state goes to extensionStatus
	ext := ofType(evs, TypeExtensionStatus)
	if len(ext) == 0 || ext[len(ext)-1].Status != "not_inuse" {
		t.Errorf("extensionStatus = %+v", ext)
	}
}

// A queue call answered and completed with a recording (62): queueCount
// up and down, phoneNumber while connected, agentComplete with the file
// name of VarSet MIXMONITOR_FILENAME, caller hang-up and agent hang-up.
func TestReplayAnsweredRecordedCalls(t *testing.T) {
	m := NewModel(ModelConfig{})
	evs := replayFields(m, rawLiveEvents(t, "62_queue_call_answered_recorded"))
	done := ofType(evs, TypeAgentComplete)
	want := []Event{
		{Type: TypeAgentComplete, Agent: "510", UniqueID: "c62-a", TalkTime: 4, HoldTime: 6, Recording: "/opt/ast/var/spool/asterisk/monitor/c62-a.wav"},
		{Type: TypeAgentComplete, Agent: "510", UniqueID: "c62-b", TalkTime: 2, HoldTime: 2, Recording: "/opt/ast/var/spool/asterisk/monitor/support-607a90d9-5d3c-494f-a8c4-cbd7ddbb8ded.wav"},
		{Type: TypeAgentComplete, Agent: "511", UniqueID: "c62-c", TalkTime: 3, HoldTime: 0, Recording: "/opt/ast/var/spool/asterisk/monitor/mixmon-b86be5be-2a96-4e03-b80e-53fa4522f3f9.wav"},
	}
	if !reflect.DeepEqual(done, want) {
		t.Errorf("agentComplete:\n got %+v\nwant %+v", done, want)
	}
	phones := ofType(evs, TypePhoneNumber)
	if len(phones) != 6 || phones[0] != (Event{Type: TypePhoneNumber, Agent: "510", Number: "5551234", Name: "Customer A", CallQueue: "support"}) || phones[1].Number != "" {
		t.Errorf("phoneNumber = %+v", phones)
	}
	b, _ := phones[1].MarshalJSON()
	if string(b) != `{"type":"phoneNumber","agent":"510","number":null}` {
		t.Errorf("no-call phoneNumber JSON = %s", b)
	}
	var counts []int
	for _, e := range ofType(evs, TypeQueueCount) {
		if e.Queue == "support" {
			counts = append(counts, e.Count)
		}
	}
	if !reflect.DeepEqual(counts, []int{1, 0, 1, 0}) {
		t.Errorf("support queueCount = %v", counts)
	}
}

// Two callers, a ring-no-answer auto-pause and two abandons (63).
func TestReplayAbandon(t *testing.T) {
	m := NewModel(ModelConfig{})
	evs := replayFields(m, rawLiveEvents(t, "63_queue_caller_abandon_and_ringnoanswer"))
	var counts []int
	for _, e := range ofType(evs, TypeQueueCount) {
		if e.Queue == "abandonq" {
			counts = append(counts, e.Count)
		}
	}
	if !reflect.DeepEqual(counts, []int{1, 2, 1, 0}) {
		t.Errorf("abandonq queueCount = %v", counts)
	}
	var paused bool
	for _, e := range ofType(evs, TypeQueueMemberStatus) {
		if e.Status == StatusPaused && e.PausedReason == "Auto-Pause" && e.Agent == "520" {
			paused = true
		}
	}
	if !paused {
		t.Error("no auto-pause after AgentRingNoAnswer")
	}
	if len(ofType(evs, TypeAgentComplete)) != 0 || len(ofType(evs, TypePhoneNumber)) != 0 {
		t.Error("an abandoned call reached an agent")
	}
}

// Click-to-call (67): c67-a connects, c67-b's customer is busy (only
// DialEnd says so: OriginateResponse is Success), c67-c's agent phone
// does not answer (OriginateResponse Failure Reason 3).
func TestReplayOriginateFailed(t *testing.T) {
	ms := loadCapture(t, "67_originate_into_queue_clicktocall")
	m := NewModel(ModelConfig{})
	var evs []Event
	for _, e := range ms {
		if !e.fromSrv && e.Get("Action") == "Originate" && e.Get("Context") != "qcaller" {
			m.TrackOriginate(Originate{ID: e.Get("ActionID"), ChannelID: e.Get("ChannelId"), Owner: "tok",
				Agent: AgentOfInterface(e.Get("Channel")), Number: e.Get("Exten")})
		}
		if e.fromSrv && e.Get("Event") != "" {
			evs = append(evs, m.Apply(e)...)
		}
	}
	got := ofType(evs, TypeOriginateFailed)
	want := []Event{
		{Type: TypeOriginateFailed, ActionID: "originate-b7acb4fb", Reason: "busy", Owner: "tok"},
		{Type: TypeOriginateFailed, ActionID: "originate-895f087e", Reason: "noanswer", Owner: "tok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("originateFailed:\n got %+v\nwant %+v", got, want)
	}
	if len(m.originates) != 0 || len(m.connected) != 0 {
		t.Errorf("originates still tracked: %v %v", m.originates, m.connected)
	}
	// c67-a: the number answered, so agent 530 talked to 100 until its leg hung up
	var phone []string
	for _, e := range ofType(evs, TypePhoneNumber) {
		if e.Agent == "530" {
			phone = append(phone, e.Number)
		}
	}
	if !reflect.DeepEqual(phone, []string{"100", ""}) {
		t.Errorf("agent 530 phoneNumber = %q, want [100 \"\"]", phone)
	}
	b, _ := got[0].MarshalJSON()
	if string(b) != `{"type":"originateFailed","actionId":"originate-b7acb4fb","reason":"busy"}` {
		t.Errorf("JSON = %s", b)
	}
}

// app_agent_pool (70): member Local/1001@agentrequest/n with
// StateInterface Agent:1001 is agent 1001; its phone state is Agent:1001's.
func TestReplayAgentPool(t *testing.T) {
	m := NewModel(ModelConfig{})
	evs := replayFields(m, rawLiveEvents(t, "70_agent_pool_login_queue_call"))
	names := ofType(evs, TypeAgentName)
	if names[len(names)-1] != (Event{Type: TypeAgentName, Agent: "1001", Name: "Alice Agent"}) {
		t.Errorf("agentName = %+v", names)
	}
	var ext []string
	for _, e := range ofType(evs, TypeExtensionStatus) {
		ext = append(ext, e.Status)
	}
	if !reflect.DeepEqual(ext, []string{"not_inuse", "inuse", "not_inuse", "unavailable"}) {
		t.Errorf("agent 1001 extensionStatus = %v", ext)
	}
	if len(ofType(evs, TypeAgentComplete)) != 1 {
		t.Error("no agentComplete for agent 1001")
	}
}

// A Custom StateInterface stays NOT_INUSE and no QueueMemberStatus comes
// during a real call (71): the call itself makes the member inuse.
func TestReplayCustomStateInterfaceDuringCall(t *testing.T) {
	m := NewModel(ModelConfig{})
	var during []string
	connected := false
	for _, e := range rawLiveEvents(t, "71_queue_custom_stateinterface_blocks_calls") {
		out := m.Apply(e)
		switch e.Get("Event") {
		case "AgentConnect":
			connected = true
		case "AgentComplete":
			connected = false
		}
		for _, d := range out {
			if d.Type == TypeQueueMemberStatus && connected {
				during = append(during, d.Status)
			}
		}
		if connected {
			if v := m.View().Members["support/510"]; !v.InCall || v.Status != DeviceNotInUse {
				t.Fatalf("during the call the member is %+v", v)
			}
		}
	}
	if !reflect.DeepEqual(during, []string{"inuse"}) {
		t.Errorf("queueMemberStatus during the call = %v, want [inuse]", during)
	}
}

// The .s2c.raw bytes read by package ami and the .jsonl the capture tool
// parsed give the same digested events, for every capture the tests use.
func TestRawAndJSONLCapturesAgree(t *testing.T) {
	for _, name := range []string{"60_hints_extensionstatus", "61_queue_members_pause_add_remove", "62_queue_call_answered_recorded",
		"63_queue_caller_abandon_and_ringnoanswer", "66_event_filter_callcentre",
		"67_originate_into_queue_clicktocall", "70_agent_pool_login_queue_call", "71_queue_custom_stateinterface_blocks_calls"} {
		fromRaw := replayFields(NewModel(ModelConfig{}), rawLiveEvents(t, name))
		fromJSON := replay(NewModel(ModelConfig{}), liveEvents(loadCapture(t, name)))
		if !reflect.DeepEqual(fromRaw, fromJSON) {
			t.Errorf("%s: %d events from the raw bytes, %d from the jsonl, or they differ", name, len(fromRaw), len(fromJSON))
		}
		if len(fromRaw) == 0 {
			t.Errorf("%s: no digested events", name)
		}
	}
}

// Events naming no agent the model can read are ignored, not turned into
// an agent "".
func TestUnreadableInterfaceIgnored(t *testing.T) {
	m := NewModel(ModelConfig{})
	for _, ev := range []msg{
		fields("Event", "QueueMemberAdded", "Queue", "q", "Interface", "nonsense", "Status", "1"),
		fields("Event", "AgentConnect", "Queue", "q", "Interface", "nonsense", "CallerIDNum", "1"),
		fields("Event", "AgentComplete", "Queue", "q", "Interface", "nonsense"),
		fields("Event", "QueueMemberRemoved", "Queue", "q", "Interface", "nonsense"),
	} {
		if out := m.Apply(ev); len(out) != 0 {
			t.Errorf("%s: %+v", ev.Get("Event"), out)
		}
	}
	if _, ok := m.View().Agents[""]; ok {
		t.Error("an agent with no name exists")
	}
}
