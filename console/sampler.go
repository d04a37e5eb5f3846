package console

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// throughputKeep is how many one-second throughput samples are kept.
	throughputKeep = 300
	// lagKeep is how many lag samples are kept per group.
	lagKeep = 120
	// lagIdleAfter stops lag sampling when nobody has viewed a page for
	// this long.
	lagIdleAfter = 10 * time.Minute
)

// rate is one throughput sample: bytes per second produced and fetched,
// and records per second produced, over the second before T (unix s).
type rate struct {
	T        int64   `json:"t"`
	In       float64 `json:"in"`
	Out      float64 `json:"out"`
	Messages float64 `json:"messages"`
}

// lagPoint is one group's total lag at T (unix s).
type lagPoint struct {
	T   int64 `json:"t"`
	Lag int64 `json:"lag"`
}

// sampler keeps the chart data. Its goroutine is the only writer.
type sampler struct {
	counters Counters
	lagEvery time.Duration
	lagFn    func(context.Context) (map[string]int64, error)
	lastView *atomic.Int64

	mu         sync.Mutex // guards throughput and lag
	throughput []rate
	lag        map[string][]lagPoint

	wakeC chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
}

func newSampler(c Counters, lagEvery time.Duration, lagFn func(context.Context) (map[string]int64, error), lastView *atomic.Int64) *sampler {
	s := &sampler{counters: c, lagEvery: lagEvery, lagFn: lagFn, lastView: lastView,
		lag: map[string][]lagPoint{}, wakeC: make(chan struct{}, 1), done: make(chan struct{})}
	s.wg.Add(1)
	go s.run()
	return s
}

// wake asks for a lag sample soon (a page was viewed).
func (s *sampler) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default:
	}
}

func (s *sampler) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
}

func (s *sampler) run() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastIn, lastOut, lastMsgs uint64
	var lastT time.Time
	if s.counters != nil {
		lastIn, lastOut, lastMsgs = s.counters.Totals()
		lastT = time.Now()
	}
	var lastLag time.Time
	for {
		select {
		case <-s.done:
			return
		case <-s.wakeC:
		case now := <-tick.C:
			if s.counters != nil {
				in, out, msgs := s.counters.Totals()
				secs := now.Sub(lastT).Seconds()
				if secs > 0 {
					s.add(rate{T: now.Unix(), In: float64(in-lastIn) / secs, Out: float64(out-lastOut) / secs, Messages: float64(msgs-lastMsgs) / secs})
				}
				lastIn, lastOut, lastMsgs, lastT = in, out, msgs, now
			}
		}
		viewed := time.Unix(0, s.lastView.Load())
		if time.Since(viewed) < lagIdleAfter && time.Since(lastLag) >= s.lagEvery {
			lastLag = time.Now()
			s.sampleLag()
		}
	}
}

func (s *sampler) add(r rate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.throughput) == throughputKeep {
		copy(s.throughput, s.throughput[1:])
		s.throughput = s.throughput[:throughputKeep-1]
	}
	s.throughput = append(s.throughput, r)
}

func (s *sampler) sampleLag() {
	ctx, cancel := context.WithTimeout(context.Background(), s.lagEvery)
	defer cancel()
	lags, err := s.lagFn(ctx)
	if err != nil {
		return
	}
	now := time.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	for g := range s.lag {
		if _, ok := lags[g]; !ok {
			delete(s.lag, g)
		}
	}
	for g, l := range lags {
		pts := s.lag[g]
		if len(pts) == lagKeep {
			copy(pts, pts[1:])
			pts = pts[:lagKeep-1]
		}
		s.lag[g] = append(pts, lagPoint{T: now, Lag: l})
	}
}

func (s *sampler) throughputCopy() []rate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rate(nil), s.throughput...)
}

func (s *sampler) lagCopy(group string) []lagPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]lagPoint(nil), s.lag[group]...)
}

// sampleLag is the sampler's lagFn: every group's total lag.
func (c *Console) sampleLag(ctx context.Context) (map[string]int64, error) {
	adm, _, err := c.admin()
	if err != nil {
		return nil, err
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	if len(listed) == 0 {
		return out, nil
	}
	lags, err := adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		return nil, err
	}
	for g, l := range lags {
		if sum, ok := totalLag(l.Lag); ok {
			out[g] = sum
		}
	}
	return out, nil
}

func (c *Console) apiThroughput(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, c.samples.throughputCopy())
}

func (c *Console) apiLag(w http.ResponseWriter, r *http.Request) {
	c.lastView.Store(time.Now().UnixNano())
	writeJSON(w, c.samples.lagCopy(r.PathValue("id")))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
