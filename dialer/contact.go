package dialer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Contact is one party to call.
type Contact struct {
	// ID identifies the contact in its campaign; it defaults to Number.
	ID string `json:"id"`
	// Number is E.164 ("+14155550100").
	Number string `json:"number"`
	// Zones are the IANA time zones the calling hours are checked in: the
	// one given, or every zone the number's prefix maps to.
	Zones []string `json:"zones"`
	// Vars are passed to the call (channel variables on answer).
	Vars map[string]string `json:"vars,omitempty"`
}

// Problem names one rejected row of an import.
type Problem struct {
	Row    int           // 1-based line of the CSV (the header is row 1)
	Column string        // column name
	Reason ProblemReason // why
	Value  string        // the offending value (truncated)
}

func (p Problem) String() string {
	return fmt.Sprintf("row %d, column %s: %s (%q)", p.Row, p.Column, p.Reason, p.Value)
}

// ProblemReason is why a contact is not dialed.
type ProblemReason string

// Problem reasons, also the "skipped by reason" keys of a preflight.
const (
	ProblemInvalidNumber ProblemReason = "invalid_number" // not E.164 after normalisation
	ProblemUnknownZone   ProblemReason = "unknown_zone"   // zone given is unknown, or none derivable
	ProblemDuplicate     ProblemReason = "duplicate"      // same number or id as an earlier row
	ProblemInvalidValue  ProblemReason = "invalid_value"  // an id or variable unsafe for a dial string
	ProblemShortRow      ProblemReason = "malformed_row"  // CSV syntax error or wrong column count
)

// ErrImport is wrapped by errors that stop an import (no header, no number
// column, I/O). Bad rows never stop it: they are reported.
var ErrImport = errors.New("dialer: import")

// Normalizer turns raw numbers and zones into dialable contacts.
type Normalizer struct {
	// DefaultRegion is the ISO 3166 region for numbers without a "+" (e.g. "US").
	DefaultRegion string

	mu    sync.Mutex
	zones map[string]*time.Location
}

// Location loads an IANA zone, caching it; "Etc/Unknown" and bad names fail.
func (n *Normalizer) Location(name string) (*time.Location, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if loc, ok := n.zones[name]; ok {
		return loc, nil
	}
	if name == "" || name == phonenumbers.UNKNOWN_TIMEZONE || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("dialer: unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("dialer: unknown time zone %q: %w", name, err)
	}
	if n.zones == nil {
		n.zones = map[string]*time.Location{}
	}
	n.zones[name] = loc
	return loc, nil
}

// Locations loads every zone of a contact.
func (n *Normalizer) Locations(zones []string) ([]*time.Location, error) {
	out := make([]*time.Location, 0, len(zones))
	for _, z := range zones {
		loc, err := n.Location(z)
		if err != nil {
			return nil, err
		}
		out = append(out, loc)
	}
	if len(out) == 0 {
		return nil, errors.New("dialer: no time zone")
	}
	return out, nil
}

// Number normalises raw to E.164 and returns the zones its prefix maps to.
func (n *Normalizer) Number(raw string) (e164 string, zones []string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 40 {
		return "", nil, errors.New("empty or too long")
	}
	num, err := phonenumbers.Parse(raw, n.DefaultRegion)
	if err != nil {
		return "", nil, err
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", nil, errors.New("not a valid number")
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	zones, err = phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return e164, nil, err
	}
	return e164, zones, nil
}

// Contact builds one contact from raw values; zone "" derives the zones from
// the number. The returned reason and column say what is wrong, if anything.
func (n *Normalizer) Contact(id, number, zone string, vars map[string]string) (Contact, ProblemReason, string) {
	e164, derived, err := n.Number(number)
	if err != nil {
		return Contact{}, ProblemInvalidNumber, "number"
	}
	c := Contact{ID: id, Number: e164, Vars: vars}
	if c.ID == "" {
		c.ID = e164
	}
	if err := checkValue(c.ID); err != nil {
		return Contact{}, ProblemInvalidValue, "id"
	}
	for k, v := range vars {
		if checkName(k) != nil || checkValue(v) != nil {
			return Contact{}, ProblemInvalidValue, k
		}
	}
	if zone != "" {
		c.Zones = []string{zone}
	} else {
		c.Zones = derived
	}
	if _, err := n.Locations(c.Zones); err != nil {
		col := "timezone"
		if zone == "" {
			col = "number"
		}
		return Contact{}, ProblemUnknownZone, col
	}
	return c, "", ""
}

// ImportReport is the validation report of an import.
type ImportReport struct {
	Rows     int // data rows read (header excluded)
	Accepted int
	Problems []Problem
	// ByReason counts rejected rows per reason.
	ByReason map[ProblemReason]int
}

// maxProblems bounds the detailed list; ByReason still counts them all.
const maxProblems = 10000

func (r *ImportReport) add(p Problem) {
	if r.ByReason == nil {
		r.ByReason = map[ProblemReason]int{}
	}
	r.ByReason[p.Reason]++
	if len(r.Problems) < maxProblems {
		if len(p.Value) > 64 {
			p.Value = p.Value[:64] + "..."
		}
		r.Problems = append(r.Problems, p)
	}
}

// ImportBatch is how many contacts ImportCSV hands to its sink at once.
const ImportBatch = 1000

// ImportCSV streams contacts from CSV (never holding the whole file): a
// header row names the columns; "number" is required, "id" and "timezone"
// (or "tz") are optional, every other column becomes a call variable.
// Rejected rows are reported with row and column; sink receives accepted
// contacts in batches of up to ImportBatch and its error stops the import.
func ImportCSV(ctx context.Context, r io.Reader, n *Normalizer, sink func([]Contact) error) (ImportReport, error) {
	var rep ImportReport
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return rep, fmt.Errorf("%w: read header: %w", ErrImport, err)
	}
	cols := make([]string, len(header))
	numCol, idCol, tzCol := -1, -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		cols[i] = h
		switch h {
		case "number", "phone":
			numCol = i
		case "id":
			idCol = i
		case "timezone", "tz":
			tzCol = i
		default:
			if checkName(h) != nil {
				return rep, fmt.Errorf("%w: column %d %q is not a valid variable name", ErrImport, i+1, h)
			}
		}
	}
	if numCol < 0 {
		return rep, fmt.Errorf("%w: no \"number\" column in header %q", ErrImport, strings.Join(header, ","))
	}
	// Normalising a number (phonenumbers) is the cost of an import, so
	// rows are normalised on every core in chunks and taken back in row
	// order: duplicates, problems and batches come out exactly as a
	// sequential read would give them.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan rowChunk, 4)
	readErr := make(chan error, 1)
	go func() { readErr <- readChunks(ctx, cr, len(cols), chunks) }()
	workers := max(1, runtime.GOMAXPROCS(0))
	results := make(chan rowChunk, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range chunks {
				for i := range ch.rows {
					normalizeRow(n, &ch.rows[i], cols, numCol, idCol, tzCol)
				}
				select {
				case results <- ch:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Numbers are E.164 (at most 15 digits): kept as integers, exact and
	// small (1M contacts must import in bounded memory); ids only when
	// they differ from the number.
	seenNumber := make(map[uint64]struct{})
	seenID := make(map[string]struct{})
	batch := make([]Contact, 0, ImportBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := sink(batch); err != nil {
			return err
		}
		batch = make([]Contact, 0, ImportBatch)
		return nil
	}
	take := func(r *rawRow) error {
		rep.Rows++
		if r.problem != nil {
			rep.add(*r.problem)
			return nil
		}
		c := r.contact
		dupCol, dup := "", false
		key := e164Key(c.Number)
		if _, ok := seenNumber[key]; ok {
			dupCol, dup = "number", true
		} else if _, ok := seenID[c.ID]; ok && c.ID != c.Number {
			dupCol, dup = "id", true
		}
		if dup {
			val := c.Number
			if dupCol == "id" {
				val = c.ID
			}
			rep.add(Problem{Row: r.row, Column: dupCol, Reason: ProblemDuplicate, Value: val})
			return nil
		}
		seenNumber[key] = struct{}{}
		if c.ID != c.Number {
			// A clone: the id is a substring of its whole CSV line.
			seenID[strings.Clone(c.ID)] = struct{}{}
		}
		rep.Accepted++
		batch = append(batch, c)
		if len(batch) == ImportBatch {
			return flush()
		}
		return nil
	}
	pending := map[int]rowChunk{}
	next := 0
	for ch := range results {
		pending[ch.seq] = ch
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for i := range c.rows {
				if err := take(&c.rows[i]); err != nil {
					return rep, err
				}
			}
		}
	}
	if err := <-readErr; err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, flush()
}

// e164Key is the number's digits as an integer ("+14155550100" ->
// 14155550100); E.164 has at most 15 digits, so it is exact.
func e164Key(e164 string) uint64 {
	var k uint64
	for i := 1; i < len(e164); i++ {
		k = k*10 + uint64(e164[i]-'0')
	}
	return k
}

// rawRow is one CSV row on its way through the import.
type rawRow struct {
	row     int
	rec     []string
	contact Contact
	problem *Problem
}

type rowChunk struct {
	seq  int
	rows []rawRow
}

const importChunk = 512

// readChunks reads the CSV rows (copied: the reader reuses its record)
// into chunks; syntax errors and wrong column counts become problems.
func readChunks(ctx context.Context, cr *csv.Reader, ncols int, out chan<- rowChunk) error {
	defer close(out)
	seq := 0
	cur := rowChunk{rows: make([]rawRow, 0, importChunk)}
	send := func() error {
		if len(cur.rows) == 0 {
			return nil
		}
		cur.seq = seq
		seq++
		select {
		case out <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = rowChunk{rows: make([]rawRow, 0, importChunk)}
		return nil
	}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return send()
		}
		r := rawRow{row: row}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			r.problem = &Problem{Row: pe.Line, Reason: ProblemShortRow, Value: pe.Err.Error()}
		case err != nil:
			return fmt.Errorf("%w: row %d: %w", ErrImport, row, err)
		case len(rec) != ncols:
			r.problem = &Problem{Row: row, Reason: ProblemShortRow, Value: fmt.Sprintf("%d columns, header has %d", len(rec), ncols)}
		default:
			r.rec = append(make([]string, 0, len(rec)), rec...)
		}
		cur.rows = append(cur.rows, r)
		if len(cur.rows) == importChunk {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// normalizeRow fills r.contact or r.problem (duplicates are checked later,
// in row order).
func normalizeRow(n *Normalizer, r *rawRow, cols []string, numCol, idCol, tzCol int) {
	if r.problem != nil {
		return
	}
	rec := r.rec
	var id, zone string
	if idCol >= 0 {
		id = strings.TrimSpace(rec[idCol])
	}
	if tzCol >= 0 {
		zone = strings.TrimSpace(rec[tzCol])
	}
	var vars map[string]string
	for i, v := range rec {
		if i == numCol || i == idCol || i == tzCol || v == "" {
			continue
		}
		if vars == nil {
			vars = map[string]string{}
		}
		vars[cols[i]] = v
	}
	c, reason, col := n.Contact(id, rec[numCol], zone, vars)
	r.rec = nil
	if reason == "" {
		r.contact = c
		return
	}
	val := ""
	switch col {
	case "number":
		val = rec[numCol]
	case "timezone":
		val = zone
	case "id":
		val = id
	default:
		val = vars[col]
	}
	r.problem = &Problem{Row: r.row, Column: col, Reason: reason, Value: val}
}

// ErrInvalidValue is wrapped when a value that would reach a dial string,
// a protocol header or a call file is unsafe.
var ErrInvalidValue = errors.New("dialer: invalid value")

// maxValueLen bounds every value passed to a backend.
const maxValueLen = 256

// checkValue refuses what could inject into a dial string, an AMI header or
// a call file: control characters (CR/LF), commas, pipes, over-long values.
func checkValue(v string) error {
	if len(v) > maxValueLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidValue, len(v), maxValueLen)
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f || r == ',' || r == '|' {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidValue, v, r)
		}
	}
	return nil
}

// checkName checks a variable name: letters, digits, '_' and '-' only.
func checkName(k string) error {
	if k == "" || len(k) > 64 {
		return fmt.Errorf("%w: variable name %q", ErrInvalidValue, k)
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%w: variable name %q", ErrInvalidValue, k)
		}
	}
	return nil
}

// CheckValue is the validation every backend applies to each value it puts
// on the wire (exported for backends in sub-packages).
func CheckValue(v string) error { return checkValue(v) }

// CheckName validates a variable name (exported for backends).
func CheckName(k string) error { return checkName(k) }
