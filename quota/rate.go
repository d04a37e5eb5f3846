package quota

import "math"

// sample is one window of a sampled rate, Kafka's SampledStat.Sample.
// Times are milliseconds on the manager's clock.
type sample struct {
	value     float64
	events    int64
	start     int64
	lastEvent int64
}

func (s *sample) reset(now int64) { *s = sample{start: now, lastEvent: now} }

// rate is Kafka's Rate over a SampledTotal: a ring of n+1 windows (one
// extra for the window overlapping the start of the monitored span). It
// is not safe for concurrent use; sensor holds the lock.
type rate struct {
	samples []sample
	current int
}

// record adds v at now, starting a new window when the current one has
// lasted windowMs (SampledStat.record / advance).
func (r *rate) record(v float64, now, windowMs int64, n int) {
	if len(r.samples) == 0 {
		r.samples = make([]sample, 1, n+1)
		r.samples[0].reset(now)
	}
	s := &r.samples[r.current]
	if now-s.start >= windowMs {
		r.current = (r.current + 1) % (n + 1)
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, sample{})
		}
		s = &r.samples[r.current]
		s.reset(now)
	}
	s.value += v
	s.events++
	s.lastEvent = now
}

// purge resets the windows with no event in the last n windows
// (SampledStat.purgeObsoleteSamples).
func (r *rate) purge(now, windowMs int64, n int) {
	expire := int64(n) * windowMs
	for i := range r.samples {
		if now-r.samples[i].lastEvent >= expire {
			r.samples[i].reset(now)
		}
	}
}

// windowSize is the span in milliseconds the rate is computed over
// (Rate.windowSize): from the oldest window's start to now, but at least
// n-1 whole windows, so that a client's first second does not measure
// as a huge rate; never below 1 ms.
func (r *rate) windowSize(now, windowMs int64, n int) int64 {
	r.purge(now, windowMs, n)
	oldest := now
	for i := range r.samples {
		oldest = min(oldest, r.samples[i].start)
	}
	elapsed := now - oldest
	if full, minFull := elapsed/windowMs, int64(n-1); full < minFull {
		elapsed += (minFull - full) * windowMs
	}
	return max(elapsed, 1)
}

// measure returns the rate per second at now (Rate.measure with
// TimeUnit.SECONDS), and the window size it used in milliseconds.
func (r *rate) measure(now, windowMs int64, n int) (perSec float64, windowSizeMs int64) {
	ws := r.windowSize(now, windowMs, n)
	var total float64
	for i := range r.samples {
		total += r.samples[i].value
	}
	return total / (float64(ws) / 1000), ws
}

// throttleMs is QuotaUtils.throttleTime: how long the client must stay
// quiet for the measured rate to come back to bound, in milliseconds,
// rounded half up as Math.round; 0 when the rate is within bound.
func throttleMs(measured, bound float64, windowSizeMs int64) int64 {
	if measured <= bound {
		return 0
	}
	t := (measured - bound) / bound * float64(windowSizeMs)
	if t >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int64(math.Floor(t + 0.5))
}
