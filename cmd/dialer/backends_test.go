package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/esl/esltest"
)

// Each backend's section is checked at start with an error naming the
// key; the FreeSWITCH password never appears in one.
func TestBackendConfigErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FSIVR_BACKEND": "sip"}, `backend "sip": ami, callfile or freeswitch`},
		{map[string]string{"FSIVR_BACKEND": "callfile"}, "callfile.spool_dir"},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_OWNER": "asterisk"}, "callfile.owner"},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_MODE": "0999"}, "callfile.mode"},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_MODE": "0400"}, "callfile.mode"},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_MAX_SPOOL": "-1"}, "callfile.max_spool"},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_AMI": "maybe"}, "FSIVR_CALLFILE_AMI"},
		{map[string]string{"FSIVR_BACKEND": "freeswitch", "FSIVR_FREESWITCH_PASSWORD": "hunter2"}, "freeswitch.addr"},
		{map[string]string{"FSIVR_BACKEND": "freeswitch", "FSIVR_FREESWITCH_ADDR": "127.0.0.1:8021"}, "freeswitch.password"},
		{map[string]string{"FSIVR_BACKEND": "freeswitch", "FSIVR_FREESWITCH_ADDR": "127.0.0.1:8021", "FSIVR_FREESWITCH_PASSWORD": "hunter2",
			"FSIVR_FREESWITCH_CONTEXT": "a,b"}, "freeswitch.context"},
		{map[string]string{"FSIVR_BACKEND": "freeswitch", "FSIVR_FREESWITCH_ADDR": "127.0.0.1:8021", "FSIVR_FREESWITCH_PASSWORD": "hunter2",
			"FSIVR_FREESWITCH_CONTEXT": "fsivr", "FSIVR_FREESWITCH_EXTEN": "notify"}, ""},
		{map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": "/s", "FSIVR_CALLFILE_OWNER": "0:0", "FSIVR_CALLFILE_MODE": "0640"}, ""},
	} {
		_, err := loadConfig("", func(k string) string { return c.env[k] })
		if c.want == "" {
			if err != nil {
				t.Errorf("%v: %v", c.env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %s", c.env, err, c.want)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}

// `dialer run` with backend callfile writes call files that the fake
// pbx_spool (amitest's StartSpool) runs to their end.
func TestRunBackendCallFile(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler), Outcome: func(amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Answered, Ring: 10 * time.Millisecond, Talk: 20 * time.Millisecond}
	}})
	t.Cleanup(srv.Close)
	spoolDir := t.TempDir()
	sp, err := srv.StartSpool(spoolDir, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	env := map[string]string{"FSIVR_BACKEND": "callfile", "FSIVR_CALLFILE_SPOOL_DIR": spoolDir,
		"FSIVR_CALLFILE_MODE": "0640", "FSIVR_CALLFILE_MAX_SPOOL": "3", "FSIVR_CALLFILE_AMI": "true",
		"FSIVR_AMI_ADDR": srv.Addr, "FSIVR_AMI_SECRET": "secret",
		"FSIVR_SPOOL_DIR": t.TempDir(), "FSIVR_PROGRESS": "100ms", "FSIVR_LOG_LEVEL": "error"}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, []string{"run", "testdata/campaign.yaml", "testdata/contacts.csv"}, &out, &errb,
		func(k string) string { return env[k] }, false)
	if code != 0 || !strings.Contains(out.String(), "done: dialed=40 answered=40 failed=0") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	done, err := os.ReadDir(filepath.Join(spoolDir, "outgoing_done"))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 40 {
		t.Errorf("%d call files archived by the fake pbx_spool, want 40", len(done))
	}
	if len(srv.ActionsNamed("Originate")) != 0 {
		t.Error("backend callfile sent an AMI Originate")
	}
	if len(srv.ActionsNamed("Login")) == 0 {
		t.Error("callfile.ami: no manager session for the failed calls' dispositions")
	}
}

// `dialer run` with backend freeswitch originates over the inbound event
// socket of the fake FreeSWITCH (esltest); every number is busy, retried
// once as the campaign says.
func TestRunBackendFreeSWITCH(t *testing.T) {
	fs := esltest.NewServer(esltest.Config{Password: "fs-secret", Script: func(string) esltest.Script {
		return esltest.Script{RejectCause: "USER_BUSY"}
	}})
	t.Cleanup(fs.Close)
	env := map[string]string{"FSIVR_BACKEND": "freeswitch", "FSIVR_FREESWITCH_ADDR": fs.Addr,
		"FSIVR_FREESWITCH_PASSWORD": "fs-secret", "FSIVR_SPOOL_DIR": t.TempDir(), "FSIVR_PROGRESS": "100ms", "FSIVR_LOG_LEVEL": "debug"}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, []string{"run", "testdata/campaign.yaml", "testdata/contacts.csv"}, &out, &errb,
		func(k string) string { return env[k] }, false)
	if code != 0 || !strings.Contains(out.String(), "done: dialed=80 answered=0") {
		t.Fatalf("exit %d\n%s\n%.2000s", code, out.String(), errb.String())
	}
	n := 0
	for _, r := range fs.Commands() {
		if r.Verb == "bgapi" && strings.Contains(r.Raw, "originate") {
			n++
		}
	}
	if n != 80 {
		t.Errorf("%d originates at the fake FreeSWITCH, want 80 (40 busy, each retried once)", n)
	}
	if strings.Contains(errb.String(), "fs-secret") {
		t.Error("the event socket password is in the log")
	}
}
