package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/internal/redistest"
)

func upload(t *testing.T, config any, csv string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="config"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	b, _ := json.Marshal(config)
	pw.Write(b)
	fw, _ := mw.CreateFormFile("contacts", "contacts.csv")
	fw.Write([]byte(csv))
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestCampaignOverAPI: a campaign created over the API (config + CSV) gets
// its validation report, runs to its end against the fake Asterisk, and
// its progress agrees with the attempt records listed page by page.
func TestCampaignOverAPI(t *testing.T) {
	campaignToTheEnd(t, newEnv(t, testConfig()))
}

// TestCampaignOverAPIRedis: the same on the Redis store (several dialer
// processes' store), a real redis-server on a free port.
func TestCampaignOverAPIRedis(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	campaignToTheEnd(t, newEnvStore(t, testConfig(), dialer.NewRedisStore(srv.Client(t))))
}

func campaignToTheEnd(t *testing.T, e *env) {
	cfg := CampaignRequest{ID: "spring", Message: "welcome", Retries: map[string]RetryRequest{"busy": {Max: 1, Delay: "50ms"}},
		Hours: dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}}, DefaultRegion: "US"}
	csv := "id,number\n" +
		"ann," + numAnswer + "\n" +
		"bob," + numBusy + "\n" +
		"cy,(415) 555-0103\n" +
		"dee,+14155550104\n" +
		"bad,not-a-number\n" +
		"prem,+19002345678\n" +
		"jam,+18765230123\n"
	body, ct := upload(t, cfg, csv)
	raw := append([]byte(nil), body.Bytes()...)
	r := e.do(t, "POST", "/v1/campaigns", secretOps, body, "Content-Type", ct)
	if r.code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var created CampaignView
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	rep := created.Import
	if rep == nil || rep.Rows != 7 || rep.Accepted != 6 || rep.Added != 4 || len(rep.Problems) != 1 ||
		rep.Problems[0].Row != 6 || rep.Problems[0].Column != "number" || rep.Refused[ReasonPremium] != 1 || rep.Refused[ReasonCountry] != 1 {
		t.Fatalf("import report %s", r.body)
	}
	if again := e.do(t, "POST", "/v1/campaigns", secretOps, bytes.NewReader(raw), "Content-Type", ct); again.code != 409 {
		t.Errorf("second create: %d", again.code)
	}
	if p := e.do(t, "POST", "/v1/campaigns/spring/pause", secretReader, nil); p.code != 403 || p.problem(t).Reason != ReasonScope {
		t.Errorf("pause with a read token: %d %s", p.code, p.body)
	}
	var view CampaignView
	deadline := time.Now().Add(15 * time.Second)
	for {
		g := e.do(t, "GET", "/v1/campaigns/spring", secretReader, nil)
		if err := json.Unmarshal(g.body, &view); err != nil || g.code != 200 {
			t.Fatalf("get: %d %s", g.code, g.body)
		}
		if view.Progress.Done && !view.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not done: %s", g.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p := view.Progress
	if p.Contacts != 4 || p.Attempts != 5 || p.Final[dialer.StatusAnswered] != 2 || p.Final[dialer.StatusExhausted] != 2 {
		t.Errorf("progress %+v", p)
	}
	var all []AttemptView
	cursor, pages := "", 0
	for {
		path := "/v1/campaigns/spring/attempts?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		g := e.do(t, "GET", path, secretReader, nil)
		var page AttemptPage
		if err := json.Unmarshal(g.body, &page); err != nil || g.code != 200 {
			t.Fatalf("attempts: %d %s", g.code, g.body)
		}
		pages++
		all = append(all, page.Attempts...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("attempt pages do not end")
		}
	}
	if pages < 2 {
		t.Errorf("%d pages of limit 2 for %d attempts", pages, len(all))
	}
	byDisp := map[dialer.Disposition]int{}
	final := map[dialer.ContactStatus]int{}
	ids := map[string]bool{}
	for _, a := range all {
		byDisp[a.Disposition]++
		if !ids[a.Contact] {
			final[a.Status]++
		}
		ids[a.Contact] = true
	}
	if len(all) != p.Attempts || len(ids) != p.Contacts {
		t.Errorf("%d attempts of %d contacts listed, progress says %d and %d", len(all), len(ids), p.Attempts, p.Contacts)
	}
	for d, n := range p.ByDisposition {
		if byDisp[d] != n {
			t.Errorf("disposition %s: %d listed, progress %d", d, byDisp[d], n)
		}
	}
	for s, n := range p.Final {
		if final[s] != n {
			t.Errorf("final %s: %d listed, progress %d", s, final[s], n)
		}
	}
	if n := len(e.ast.ActionsNamed("Originate")); n != p.Attempts {
		t.Errorf("%d originates at the fake, %d attempts", n, p.Attempts)
	}
	for _, a := range e.ast.ActionsNamed("Originate") {
		for _, bad := range []string{"9002345678", "8765230123"} {
			if strings.Contains(a.Get("Channel"), bad) {
				t.Errorf("a refused number was dialed: %s", a.Get("Channel"))
			}
		}
	}
	l := e.do(t, "GET", "/v1/campaigns", secretReader, nil)
	var list struct{ Campaigns []CampaignView }
	if err := json.Unmarshal(l.body, &list); err != nil || len(list.Campaigns) != 1 || list.Campaigns[0].Progress.Attempts != p.Attempts {
		t.Errorf("list: %s", l.body)
	}
	c := e.do(t, "POST", "/v1/campaigns/spring/cancel", secretOps, nil)
	var cancelled CampaignView
	if err := json.Unmarshal(c.body, &cancelled); err != nil || cancelled.Progress.State != dialer.CampaignCancelled {
		t.Errorf("cancel: %d %s", c.code, c.body)
	}
	if res := e.do(t, "POST", "/v1/campaigns/spring/resume", secretOps, nil); res.code != 409 || res.problem(t).Reason != ReasonConflict {
		t.Errorf("resume after cancel: %d %s", res.code, res.body)
	}
}

// TestCampaignPauseResume: a paused campaign dials nothing until resumed.
func TestCampaignPauseResume(t *testing.T) {
	cfg := testConfig()
	e := newEnv(t, cfg)
	req := CampaignRequest{ID: "paused", Message: "welcome", Hours: dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}}}
	// Paused in the store before the API creates it (Create keeps an
	// existing campaign's state), so no claim can race the pause.
	body, ct := upload(t, req, "number\n"+numAnswer+"\n")
	if err := e.store.Create(t.Context(), "paused", 1); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetState(t.Context(), "paused", dialer.CampaignPaused); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/v1/campaigns", secretOps, body, "Content-Type", ct); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.ast.ActionsNamed("Originate")); n != 0 {
		t.Fatalf("%d originates while paused", n)
	}
	r := e.do(t, "POST", "/v1/campaigns/paused/resume", secretOps, nil)
	var v CampaignView
	if err := json.Unmarshal(r.body, &v); err != nil || v.Progress.State != dialer.CampaignRunning {
		t.Fatalf("resume: %d %s", r.code, r.body)
	}
	if err := e.ast.WaitActions(t.Context(), "Originate", 1); err != nil {
		t.Fatal(err)
	}
	r = e.do(t, "POST", "/v1/campaigns/paused/pause", secretOps, nil)
	if err := json.Unmarshal(r.body, &v); err != nil || v.Progress.State != dialer.CampaignPaused {
		t.Errorf("pause: %d %s", r.code, r.body)
	}
}

// TestTokenRequestCap: a token's slow upload holds one of its MaxRequests;
// past the cap its next request is refused, another token's is not.
func TestTokenRequestCap(t *testing.T) {
	cfg := testConfig()
	cfg.Tokens[2].MaxRequests = 1 // ops
	e := newEnv(t, cfg)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	started := make(chan struct{})
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="config"`)
		part, _ := mw.CreatePart(h)
		_, _ = part.Write([]byte(`{"id":"slow","message":"welcome"}`))
		fw, _ := mw.CreateFormFile("contacts", "c.csv")
		_, _ = fw.Write([]byte("number\n"))
		close(started)
		// ... and the rest never comes until the test ends.
	}()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/campaigns", pr)
	req.Header.Set("Authorization", "Bearer "+secretOps)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	slow := make(chan int, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.do(t, "GET", "/v1/campaigns", secretOps, nil)
		if r.code == 429 {
			if p := r.problem(t); p.Reason != ReasonRequests {
				t.Errorf("refused with %s", p.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refusal while the upload is held: %d %s", r.code, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := e.do(t, "GET", "/v1/campaigns", secretReader, nil); r.code != 200 {
		t.Errorf("another token: %d %s", r.code, r.body)
	}
	_, _ = io.WriteString(pw, "+14155550101\n")
	mw.Close()
	pw.Close()
	if code := <-slow; code != 201 {
		t.Errorf("the slow upload: %d", code)
	}
	if r := e.do(t, "GET", "/v1/campaigns", secretOps, nil); r.code != 200 {
		t.Errorf("after the upload: %d %s", r.code, r.body)
	}
}

// TestCampaignUploadTooLarge: an upload over max_upload is refused and the
// campaign is not started; the same id with a small file then works.
func TestCampaignUploadTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUpload = 4 << 10
	e := newEnv(t, cfg)
	req := CampaignRequest{ID: "big", Message: "welcome", Hours: dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}}}
	var csv strings.Builder
	csv.WriteString("number\n")
	for csv.Len() < 8<<10 {
		csv.WriteString(numAnswer + "\n")
	}
	body, ct := upload(t, req, csv.String())
	r := e.do(t, "POST", "/v1/campaigns", secretOps, body, "Content-Type", ct)
	if r.code != 413 || r.problem(t).Reason != ReasonBodyTooLarge {
		t.Fatalf("big upload: %d %s", r.code, r.body)
	}
	if g := e.do(t, "GET", "/v1/campaigns/big", secretOps, nil); g.code != 404 {
		t.Errorf("refused campaign is listed: %d %s", g.code, g.body)
	}
	body, ct = upload(t, req, "number\n"+numBusy+"\n")
	if r := e.do(t, "POST", "/v1/campaigns", secretOps, body, "Content-Type", ct); r.code != 201 {
		t.Errorf("retry with a small file: %d %s", r.code, r.body)
	}
}
