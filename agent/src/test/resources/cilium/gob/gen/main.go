// Command gen writes golden Cilium monitor-socket streams: the bytes cilium-agent's monitor socket
// (/var/run/cilium/monitor1_2.sock) sends, made with Go's own encoding/gob and the Payload type
// declared as in Cilium's pkg/monitor/payload. Standard library only.
//
// Usage: go run main.go OUTDIR   (writes OUTDIR/payloads.gob and OUTDIR/reordered.gob)
package main

import (
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Payload is the structure used when copying events from the main monitor (as in Cilium).
type Payload struct {
	Data []byte
	CPU  int
	Lost uint64
	Type int
}

// reorderedPayload has Payload's fields in another order, between fields of every other basic
// gob type: a reader must find the payload's fields by name and skip the rest.
type reorderedPayload struct {
	Type    int
	Note    string
	Lost    uint64
	Flag    bool
	Ratio   float64
	CPU     int
	Phase   complex128
	Extra   []byte
	Seq     uint32
	Data    []byte
	private int // not sent: gob sends exported fields only
}

// As in Cilium's pkg/monitor/payload (values of PERF_RECORD_SAMPLE and PERF_RECORD_LOST).
const (
	EventSample = 9
	RecordLost  = 2
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// perfPad appends the kernel's perf padding (4 + size is a multiple of 8) as non-zero garbage.
func perfPad(b []byte) []byte {
	size := (len(b)+4+7)&^7 - 4
	for len(b) < size {
		b = append(b, 0xa5)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Hex from specs/cilium-monitor-format.md section 8.
var (
	synPacket = unhex("0a 58 0a 00 02 07 0a 58 0a 00 01 01 08 00 45 00 00 28 12 34 40 00 40 06 11 91 " +
		"0a 00 01 05 0a 00 02 07 a8 ca 1f 90 01 02 03 04 00 00 00 00 50 02 fa f0 d1 85 00 00")
	dropV3Header = unhex("01 85 d2 04 ef be ad de 36 00 00 00 36 00 03 00 2e 16 00 00 22 c8 00 00 " +
		"d2 04 00 00 89 05 02 00 1d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
	verdictV119Header = unhex("05 00 d2 04 ef be ad de 36 00 00 00 36 00 01 00 2e 16 00 00 " +
		"7b ff ff ff 90 1f 06 01 00 00 00 00 00 00 00 00 00 00 00 00")
	traceVector4 = unhex("04 07 00 00 07 7c 1a 39 42 00 00 00 42 00 00 00 01 00 00 00 00 00 00 00 00 00 81 00 " +
		"00 00 00 00 f6 8d b2 2d 21 d9 f6 8d b2 2d 21 d9 08 00 45 00 00 34 ea 1c 40 00 40 06 78 31 c0 a8 3c 0b " +
		"0a 10 ec b2 19 2b d3 ce 2a ef d2 1c b4 98 81 67 80 10 01 98 d8 9c 00 00 01 01 08 0a 00 5a b0 62 00 5a " +
		"b0 61 00 00")
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUTDIR")
		os.Exit(2)
	}
	payloads := []Payload{
		// drop v3 + SYN, raw_size 108 (spec section 8)
		{Data: perfPad(cat(dropV3Header, synPacket)), CPU: 1, Type: EventSample},
		// policy verdict, v1.19 layout + SYN, raw_size 100
		{Data: perfPad(cat(verdictV119Header, synPacket)), CPU: 2, Type: EventSample},
		// ring loss: Data omitted, a Lost that needs six bytes
		{CPU: 3, Lost: 1<<40 + 5, Type: RecordLost},
		// CPU 0 and Lost 0: both fields omitted by gob; vector 4 (trace v0 with 2 pad bytes)
		{Data: traceVector4, Type: EventSample},
		// CPU above 127: a multi-byte signed int; the verdict in the <= v1.18 layout (32 B), raw_size 92
		{Data: perfPad(cat(verdictV119Header[:32], synPacket)), CPU: 300, Type: EventSample},
		// a sample with empty Data (omitted)
		{Data: []byte{}, CPU: 5, Type: EventSample},
		// a second loss on a multi-byte CPU
		{CPU: 130, Lost: 7, Type: RecordLost},
		// a payload type that is neither sample nor loss: skipped by readers
		{Data: []byte{1, 2, 3, 4}, CPU: 4, Type: 1},
		// a final drop on a large CPU number
		{Data: perfPad(cat(dropV3Header, synPacket)), CPU: 70000, Type: EventSample},
	}
	write(os.Args[1], "payloads.gob", func(enc *gob.Encoder) {
		for i := range payloads {
			if err := enc.Encode(&payloads[i]); err != nil {
				panic(err)
			}
		}
	})

	reordered := []reorderedPayload{
		{Type: EventSample, Note: "first", Lost: 0, Flag: true, Ratio: 0.5, CPU: 1, Phase: 1 + 2i,
			Extra: []byte{9, 9}, Seq: 1, Data: perfPad(cat(dropV3Header, synPacket)), private: 1},
		{Type: RecordLost, Lost: 1<<40 + 5, CPU: 3, Seq: 2},
		{Type: EventSample, Note: "third", Ratio: -1e300, CPU: 300, Seq: 1 << 31, Data: traceVector4},
	}
	write(os.Args[1], "reordered.gob", func(enc *gob.Encoder) {
		for i := range reordered {
			if err := enc.Encode(&reordered[i]); err != nil {
				panic(err)
			}
		}
	})
}

// write runs one gob encoder over one file, as cilium-agent keeps one encoder per monitor connection.
func write(dir, name string, encode func(*gob.Encoder)) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	encode(gob.NewEncoder(f))
	if err := f.Close(); err != nil {
		panic(err)
	}
}
