package sounds

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// wavFormat is what a WAV's fmt chunk says, plus the size of its data chunk.
type wavFormat struct {
	audioFormat   uint16 // 1 = PCM
	channels      uint16
	sampleRate    uint32
	bitsPerSample uint16
	blockAlign    uint16
	dataBytes     uint32
}

// parseWAV walks the RIFF chunks of a WAVE file and returns its fmt and data facts.
func parseWAV(b []byte) (wavFormat, error) {
	var f wavFormat
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return f, errors.New("not a RIFF/WAVE file")
	}
	if riff := binary.LittleEndian.Uint32(b[4:8]); int(riff) != len(b)-8 {
		return f, fmt.Errorf("RIFF size %d, file has %d bytes after the header", riff, len(b)-8)
	}
	var haveFmt, haveData bool
	for rest := b[12:]; len(rest) > 0; {
		if len(rest) < 8 {
			return f, fmt.Errorf("truncated chunk header (%d bytes left)", len(rest))
		}
		id, size := string(rest[0:4]), binary.LittleEndian.Uint32(rest[4:8])
		if uint64(size) > uint64(len(rest)-8) {
			return f, fmt.Errorf("chunk %q says %d bytes, only %d left", id, size, len(rest)-8)
		}
		body := rest[8 : 8+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return f, fmt.Errorf("fmt chunk is %d bytes, want at least 16", size)
			}
			f.audioFormat = binary.LittleEndian.Uint16(body[0:2])
			f.channels = binary.LittleEndian.Uint16(body[2:4])
			f.sampleRate = binary.LittleEndian.Uint32(body[4:8])
			f.blockAlign = binary.LittleEndian.Uint16(body[12:14])
			f.bitsPerSample = binary.LittleEndian.Uint16(body[14:16])
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, errors.New("data chunk before fmt chunk")
			}
			f.dataBytes = size
			haveData = true
		}
		next := 8 + uint64(size) + uint64(size&1) // chunks are padded to even sizes
		if next > uint64(len(rest)) {
			next = uint64(len(rest))
		}
		rest = rest[next:]
	}
	if !haveFmt || !haveData {
		return f, fmt.Errorf("missing chunk: fmt %v, data %v", haveFmt, haveData)
	}
	return f, nil
}

// tablePaths reads the prompt paths from make.sh's table.
func tablePaths(t *testing.T) []string {
	t.Helper()
	script, err := os.Open("make.sh")
	if err != nil {
		t.Fatal(err)
	}
	defer script.Close()
	var paths []string
	in := false
	sc := bufio.NewScanner(script)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "read -r -d '' PROMPTS <<'TABLE'"):
			in = true
		case line == "TABLE":
			in = false
		case in && strings.TrimSpace(line) != "":
			path, text, ok := strings.Cut(line, "|")
			if !ok || strings.TrimSpace(text) == "" {
				t.Fatalf("make.sh table line %q is not path|sentence", line)
			}
			paths = append(paths, path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("make.sh has no prompt table")
	}
	sort.Strings(paths)
	return paths
}

func committedWAVs(t *testing.T) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".wav") {
			paths = append(paths, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

func TestPromptsAreTelephonyWAV(t *testing.T) {
	wavs := committedWAVs(t)
	if len(wavs) == 0 {
		t.Fatal("no WAV files under sounds/")
	}
	for _, p := range wavs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseWAV(b)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if f.audioFormat != 1 || f.sampleRate != 8000 || f.channels != 1 || f.bitsPerSample != 16 || f.blockAlign != 2 {
			t.Errorf("%s: format %d, %d Hz, %d channels, %d bits, block %d; want PCM (1), 8000 Hz, mono, 16-bit, block 2",
				p, f.audioFormat, f.sampleRate, f.channels, f.bitsPerSample, f.blockAlign)
		}
		if f.dataBytes == 0 || f.dataBytes%2 != 0 {
			t.Errorf("%s: %d data bytes, want a non-empty whole number of samples", p, f.dataBytes)
		}
	}
}

// Every prompt in make.sh's table is committed, and nothing else is.
func TestPromptsMatchTable(t *testing.T) {
	want, got := tablePaths(t), committedWAVs(t)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("make.sh table lists\n  %v\nbut sounds/ holds\n  %v", want, got)
	}
	// The prompts the sales and notify flows play (the seed's names).
	for _, p := range []string{
		"new_sales/1000.wav", "new_sales/1001.wav", "new_sales/1002.wav", "new_sales/2002.wav",
		"new_sales/9003.wav", "new_sales/9004.wav", "new_sales/81001.wav", "new_sales/81002.wav", "new_sales/81003.wav",
		"notify/1000.wav", "notify/1001.wav", "notify/1002.wav", "notify/9004.wav",
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("prompt %s: %v", p, err)
		}
	}
}

func TestParseWAVRejectsBadFiles(t *testing.T) {
	good, err := os.ReadFile("notify/1002.wav")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseWAV(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	bad := map[string][]byte{
		"empty":      nil,
		"not RIFF":   append([]byte("RIFX"), good[4:]...),
		"truncated":  good[:len(good)-10],
		"no data":    good[:36:36],
		"short fmt":  []byte("RIFF\x14\x00\x00\x00WAVEfmt \x08\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"),
		"bad length": append(append([]byte{}, good[:4]...), append([]byte{0xff, 0xff, 0xff, 0x7f}, good[8:]...)...),
	}
	for name, b := range bad {
		if _, err := parseWAV(b); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
