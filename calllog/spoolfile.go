package calllog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// A spool line is one record: its CRC-32C (Castagnoli) as 8 hex digits, a
// space, the record's JSON, a newline:
//
//	1f0c3a9e {"w":"...","s":17,"c":"<call>","k":"dtmf",...}
//
// The checksum covers the JSON bytes. A line whose checksum does not match
// (a flipped bit, a torn write) is skipped and counted as corrupt; it is never
// decoded, so a damaged sequence number cannot make it look like an entry
// Redis already has. Lines starting with '{' are the format before the
// checksum (read for upgrades; no single bit flip turns a hex digit into '{').
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxSpoolLine bounds one line when reading a segment back. The entry limits
// (MaxValueBytes, MaxFields) keep every record far below it; a longer line is
// damage, and its segment is quarantined.
const maxSpoolLine = 1 << 20

// errCorruptLine is wrapped by decodeLine for a line that fails its checksum
// or does not decode.
var errCorruptLine = errors.New("corrupt spool line")

// appendLine appends r's spool line to buf.
func appendLine(buf *bytes.Buffer, r *record) error {
	js, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("calllog: encode spool record: %w", err)
	}
	var sum [4]byte
	c := crc32.Checksum(js, crcTable)
	sum[0], sum[1], sum[2], sum[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	var hx [8]byte
	hex.Encode(hx[:], sum[:])
	buf.Write(hx[:])
	buf.WriteByte(' ')
	buf.Write(js)
	buf.WriteByte('\n')
	return nil
}

// decodeLine decodes one line (without its newline).
func decodeLine(line []byte) (record, error) {
	var r record
	js := line
	if len(line) > 0 && line[0] != '{' {
		if len(line) < 10 || line[8] != ' ' {
			return r, fmt.Errorf("%w: no checksum", errCorruptLine)
		}
		want, err := strconv.ParseUint(string(line[:8]), 16, 32)
		if err != nil {
			return r, fmt.Errorf("%w: bad checksum field", errCorruptLine)
		}
		js = line[9:]
		if uint32(want) != crc32.Checksum(js, crcTable) {
			return r, fmt.Errorf("%w: checksum mismatch", errCorruptLine)
		}
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, fmt.Errorf("%w: %v", errCorruptLine, err)
	}
	r.legacy = len(line) > 0 && line[0] == '{'
	if r.Writer == "" || r.Seq == 0 {
		return r, fmt.Errorf("%w: no writer or sequence", errCorruptLine)
	}
	return r, nil
}

// segmentName is "<writer id>-<seq of the first record, 20 digits>.spool":
// sorting names sorts one writer's segments by sequence, and writer ids start
// with their start time in hex, so older writers sort first.
func segmentName(r *record) string {
	return fmt.Sprintf("%s-%020d%s", r.Writer, r.Seq, spoolExt)
}

// segmentWriter returns the writer id in a segment name ("" if malformed).
func segmentWriter(name string) string {
	base := strings.TrimSuffix(name, spoolExt)
	i := strings.LastIndexByte(base, '-')
	if i <= 0 || len(base)-i-1 != 20 {
		return ""
	}
	return base[:i]
}
