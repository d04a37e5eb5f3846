// Package compat holds what the Go client programs (sarama, kafka-go) of
// the compatibility suite share: failing a scenario with a reason, the
// record shapes every scenario produces and checks, and the command-line
// dispatch that run.sh calls ("PROGRAM SCENARIO [ARG]", printing "OK ..."
// or "FAIL: reason").
package compat

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

// failure is what Check and Must panic with; Main turns it into a FAIL line.
type failure struct{ msg string }

// Check fails the scenario with the formatted reason unless cond holds.
func Check(cond bool, format string, args ...any) {
	if !cond {
		panic(failure{fmt.Sprintf(format, args...)})
	}
}

// Must fails the scenario when err is not nil.
func Must(err error, what string) {
	if err != nil {
		panic(failure{fmt.Sprintf("%s: %v", what, err)})
	}
}

// EnvOr is the environment variable k, or d when it is unset or empty.
func EnvOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// Atoi parses s, or gives 0.
func Atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Sent is where the client said record k<Seq> was written.
type Sent struct {
	Partition int32
	Offset    int64
	Seq       int
}

// Rec is a consumed record in a client-independent shape.
type Rec struct {
	Partition int32
	Offset    int64
	Key, Val  string
	Headers   map[string]string
}

// Verify checks that got holds exactly the records of want (keys k<seq>,
// values v<seq>-tag, headers seq and tag), each once, at the offsets the
// producer reported, with dense offsets per partition.
func Verify(got []Rec, want []Sent, tag string) {
	Check(len(got) == len(want), "consumed %d records, produced %d", len(got), len(want))
	byPos := map[string]Rec{}
	for _, r := range got {
		k := fmt.Sprintf("%d@%d", r.Partition, r.Offset)
		_, dup := byPos[k]
		Check(!dup, "record at %s delivered twice", k)
		byPos[k] = r
	}
	for _, s := range want {
		r, ok := byPos[fmt.Sprintf("%d@%d", s.Partition, s.Offset)]
		Check(ok, "record k%d (partition %d offset %d) not consumed", s.Seq, s.Partition, s.Offset)
		Check(r.Key == fmt.Sprintf("k%d", s.Seq), "at %d@%d key %q", s.Partition, s.Offset, r.Key)
		Check(r.Val == fmt.Sprintf("v%d-%s", s.Seq, tag), "at %d@%d value %q", s.Partition, s.Offset, r.Val)
		Check(len(r.Headers) == 2 && r.Headers["seq"] == strconv.Itoa(s.Seq) && r.Headers["tag"] == tag, "at %d@%d headers %v", s.Partition, s.Offset, r.Headers)
	}
	byP := map[int32][]int64{}
	for _, r := range got {
		byP[r.Partition] = append(byP[r.Partition], r.Offset)
	}
	for p, offs := range byP {
		for i := 1; i < len(offs); i++ {
			Check(offs[i] == offs[i-1]+1, "partition %d offsets not dense/in order: %v", p, offs)
		}
	}
}

// VerifyCross checks the 10 records another client wrote to partition 0 of
// its cross-<writer> topic: key-<i>, "<writer> value <i>", header origin.
func VerifyCross(writer string, got []Rec) {
	Check(len(got) == 10, "read %d records, want 10", len(got))
	sort.Slice(got, func(i, j int) bool { return got[i].Offset < got[j].Offset })
	for i, r := range got {
		Check(r.Offset == int64(i), "record %d at offset %d", i, r.Offset)
		Check(r.Key == fmt.Sprintf("key-%d", i), "offset %d key %q", i, r.Key)
		Check(r.Val == fmt.Sprintf("%s value %d", writer, i), "offset %d value %q", i, r.Val)
		Check(len(r.Headers) == 1 && r.Headers["origin"] == writer, "offset %d headers %v", i, r.Headers)
	}
}

// Main runs the scenario named by the first argument with the optional
// second as its argument, printing "OK scenario arg" or "FAIL: reason"
// (exit status 1).
func Main(prog string, scenarios map[string]func(arg string)) {
	if len(os.Args) < 2 {
		fmt.Printf("usage: %s SCENARIO [ARG]\n", prog)
		os.Exit(2)
	}
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				fmt.Println("FAIL: " + f.msg)
			} else {
				fmt.Printf("FAIL: panic: %v\n", r)
			}
			os.Exit(1)
		}
	}()
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	fn, ok := scenarios[os.Args[1]]
	Check(ok, "unknown scenario %s", os.Args[1])
	fn(arg)
	fmt.Println("OK", os.Args[1], arg)
}
