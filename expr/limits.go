package expr

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

// Limits bound one evaluation, so that a runaway expression (a huge range, a
// recursion without end, a string multiplied by millions) faults instead of
// taking the process's memory and a core with it.
type Limits struct {
	// Timeout is how long one evaluation may run; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxSize bounds, in bytes (an estimate of the memory Go values take),
	// what one evaluation builds: the array elements and object members it
	// adds, the strings it makes, the calls of functions it defines (their
	// stack frames), all counted together; and the size of each value it
	// returns beyond the size of the data it reads. 0 means DefaultMaxSize.
	MaxSize int64
}

// Defaults of Limits.
const (
	DefaultTimeout = time.Second
	DefaultMaxSize = 16 << 20
)

// Costs, in MaxSize's bytes, of what an evaluation builds.
const (
	elementCost = 16 // an array slot: an interface value
	memberCost  = 32 // an object member: a map entry
	callCost    = 64 // a call of a function the expression defines
	// maxNumberBytes bounds integers (gojq keeps integers exact): squaring
	// a huge one takes seconds in one step that no deadline interrupts.
	maxNumberBytes = 64 << 10
	// maxDepth bounds the nesting of results: deeper JSON could be stored
	// but not read back.
	maxDepth = 10000
)

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	return l
}

type limitsKey struct{}

// WithLimits returns a context whose expression evaluations are bounded by
// l (zero fields keep their defaults). Evaluations without it use the
// defaults.
func WithLimits(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l.withDefaults())
}

func limitsFrom(ctx context.Context) Limits {
	if l, ok := ctx.Value(limitsKey{}).(Limits); ok {
		return l
	}
	return Limits{}.withDefaults()
}

// LimitError says which bound an evaluation exceeded.
type LimitError struct {
	// Limit is "time" or "size".
	Limit string
	// Max is the bound: a time.Duration for "time", bytes for "size".
	Max any
	// What describes what went over it.
	What string
	// fixed marks a bound that is not configurable.
	fixed bool
}

func (e *LimitError) Error() string {
	switch {
	case e.fixed:
		return e.What + ", beyond what storeflow evaluates"
	case e.Limit == "time":
		return e.What + ", the time limit of an evaluation (raise it with --expr-timeout or STOREFLOW_EXPR_TIMEOUT, or simplify the expression)"
	}
	return e.What + ", the size limit of an evaluation (raise it with --expr-max-size or STOREFLOW_EXPR_MAX_SIZE, or simplify the expression)"
}

// FormatSize writes a byte count the way the limits are documented: 16MiB.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// ParseSize reads a byte count written as 16MiB, 512KiB, 1GiB, 16MB or a
// plain number of bytes.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if len(s) > len(u.suffix) && s[len(s)-len(u.suffix):] == u.suffix {
			mult, num = u.mult, s[:len(s)-len(u.suffix)]
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || fmt.Sprint(n) != num || n <= 0 {
		return 0, fmt.Errorf("size %q: write a positive number of bytes, optionally with KiB, MiB or GiB (16MiB)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// closed is the Done channel of an evaluation that must stop.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// evaluation is the state of one bounded evaluation. It is the context gojq
// runs with: gojq asks for Done before every instruction, which is where the
// deadline, the caller's cancellation and a bound exceeded elsewhere stop
// it. It is also handed to the guard functions (as the hidden variable
// $__storeflow) that count what the evaluation builds. Only the goroutine
// running the evaluation uses it.
type evaluation struct {
	parent   context.Context
	limits   Limits
	deadline time.Time
	built    int64 // bytes charged so far
	steps    int
	err      error
}

func newEvaluation(ctx context.Context) *evaluation {
	l := limitsFrom(ctx)
	return &evaluation{parent: ctx, limits: l, deadline: time.Now().Add(l.Timeout)}
}

func (ev *evaluation) Deadline() (time.Time, bool) { return ev.deadline, true }
func (ev *evaluation) Value(key any) any           { return ev.parent.Value(key) }

func (ev *evaluation) Err() error {
	if ev.err != nil {
		return ev.err
	}
	return ev.parent.Err()
}

// Done is called by gojq at every instruction; it looks at the clock and the
// caller's context only every 128 of them.
func (ev *evaluation) Done() <-chan struct{} {
	if ev.err != nil {
		return closed
	}
	ev.steps++
	if ev.steps&127 != 0 {
		return nil
	}
	if err := ev.parent.Err(); err != nil {
		ev.err = err
		return closed
	}
	if time.Now().After(ev.deadline) {
		ev.err = &LimitError{Limit: "time", Max: ev.limits.Timeout, What: fmt.Sprintf("it ran longer than %v", ev.limits.Timeout)}
		return closed
	}
	return nil
}

// fail records the first bound exceeded; gojq stops at its next
// instruction, so that no try in the expression can swallow it.
func (ev *evaluation) fail(what string) error {
	if ev.err == nil {
		ev.err = &LimitError{Limit: "size", Max: ev.limits.MaxSize, What: what}
	}
	return ev.err
}

// failFixed records a bound exceeded that is not configurable.
func (ev *evaluation) failFixed(what string, max int64) error {
	if ev.err == nil {
		ev.err = &LimitError{Limit: "size", Max: max, What: what, fixed: true}
	}
	return ev.err
}

// charge counts n bytes built.
func (ev *evaluation) charge(n int64) error {
	if ev.err != nil {
		return ev.err
	}
	ev.built += n
	if ev.built > ev.limits.MaxSize {
		return ev.fail(fmt.Sprintf("it builds more than %s of values", FormatSize(ev.limits.MaxSize)))
	}
	return nil
}

// shallowSize is the size of a value itself, not counting what its
// elements hold.
func shallowSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return 16 + int64(len(x))
	case []any:
		return 24 + elementCost*int64(len(x))
	case map[string]any:
		n := int64(48)
		for k := range x {
			n += memberCost + int64(len(k))
		}
		return n
	case *big.Int:
		return 8 + int64(len(x.Bits()))*8
	}
	return 8
}

// sizer measures a value with everything it holds, counting a value held
// twice twice (what serializing it costs), and stops past max or maxDepth.
type sizer struct {
	n, max int64
	deep   bool // nested deeper than maxDepth
}

// deepSize returns the size of v, or a number above max when it is larger,
// and whether it nests deeper than maxDepth.
func deepSize(v any, max int64) (n int64, deep bool) {
	s := sizer{max: max}
	s.walk(v, 0)
	return s.n, s.deep
}

// walk reports false once the size is known to be too large.
func (s *sizer) walk(v any, depth int) bool {
	if depth > maxDepth {
		s.deep = true
		return false
	}
	switch x := v.(type) {
	case []any:
		s.n += 24 + elementCost*int64(len(x))
		if s.n > s.max {
			return false
		}
		for _, e := range x {
			if !s.walk(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		s.n += 48
		for k, e := range x {
			s.n += memberCost + int64(len(k))
			if s.n > s.max || !s.walk(e, depth+1) {
				return false
			}
		}
		return true
	}
	s.n += shallowSize(v)
	return s.n <= s.max
}
