package expr

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/itchyny/gojq"
)

// An expression is bounded by rewriting it before it is compiled: the places
// where jq builds values (array and object construction, + and *, the calls
// of functions the expression defines, the builtins that make a big value
// in one step) pass through guard functions that count what is built
// against the evaluation's MaxSize. gojq checks the evaluation's context at
// every instruction, which is where the deadline stops the rest (loops that
// build nothing: range, repeat, until, limit). The guards reach their
// evaluation through a hidden variable; names under reservedPrefix are
// reserved for them.

// stateVar is the hidden variable holding the *evaluation.
const stateVar = "$__storeflow"

const reservedPrefix = "_storeflow_"

func reserved(name string) bool {
	return strings.HasPrefix(name, reservedPrefix) || strings.HasPrefix(name, stateVar)
}

// shadows are jq definitions that stand in for builtins which can build a
// big value in one step: each checks what it is given, calls the builtin
// (through a definition made before the builtin's name is shadowed) and
// counts what it made. Arguments are bound last one first, as gojq binds
// them for its builtins, so that generators give their outputs in the same
// order.
var shadows = map[string]string{
	"tojson":         `def tojson: _storeflow_tojson($__storeflow; false);`,
	"tostring":       `def tostring: _storeflow_tojson($__storeflow; true);`,
	"add":            shadow0("add"),
	"implode":        shadow0("implode"),
	"ascii_downcase": shadow0("ascii_downcase"),
	"ascii_upcase":   shadow0("ascii_upcase"),
	"_tohtml":        shadow0("_tohtml"),
	"_touri":         shadow0("_touri"),
	"_tourid":        shadow0("_tourid"),
	"_tocsv":         shadow0("_tocsv"),
	"_totsv":         shadow0("_totsv"),
	"_tosh":          shadow0("_tosh"),
	"_tobase64":      shadow0("_tobase64"),
	"_tobase64d":     shadow0("_tobase64d"),
	"flatten": shadow0("flatten") +
		`def _storeflow_b_flatten1($d): flatten($d);
		def flatten(d): d as $d | _storeflow_input($__storeflow; "flatten") | _storeflow_b_flatten1($d) | _storeflow_made($__storeflow);`,
	"join": `def _storeflow_b_join($x): join($x);
		def join(x): x as $x | _storeflow_input($__storeflow; "join") | _storeflow_b_join($x) | _storeflow_made($__storeflow);`,
	"format": `def _storeflow_b_format($f): format($f);
		def format(f): f as $f | _storeflow_input($__storeflow; "format") | _storeflow_b_format($f) | _storeflow_made($__storeflow);`,
	"transpose": `def _storeflow_b_transpose: transpose;
		def transpose: _storeflow_transpose($__storeflow) | _storeflow_b_transpose;`,
	"setpath": `def _storeflow_b_setpath($p; $v): setpath($p; $v);
		def setpath(p; v): v as $v | p as $p | _storeflow_path($__storeflow; $p) | _storeflow_b_setpath($p; $v);`,
	"getpath": `def _storeflow_b_getpath($p): getpath($p);
		def getpath(p): p as $p | _storeflow_path($__storeflow; $p) | _storeflow_b_getpath($p);`,
}

func shadow0(name string) string {
	return fmt.Sprintf(`def _storeflow_b_%[1]s: %[1]s;
		def %[1]s: _storeflow_input($__storeflow; %[1]q) | _storeflow_b_%[1]s | _storeflow_made($__storeflow);`, name)
}

// formatFuncs are the functions gojq compiles @formats into.
var formatFuncs = map[string]string{
	"@text": "tostring", "@json": "tojson", "@html": "_tohtml", "@uri": "_touri", "@urid": "_tourid",
	"@csv": "_tocsv", "@tsv": "_totsv", "@sh": "_tosh", "@base64": "_tobase64", "@base64d": "_tobase64d",
}

// guardOptions registers the guard functions with gojq.
var guardOptions = []gojq.CompilerOption{
	guardFunc("_storeflow_element", 0, func(ev *evaluation, v any, _ []any) any {
		return orValue(ev.charge(elementCost), v)
	}),
	guardFunc("_storeflow_object", 0, func(ev *evaluation, v any, _ []any) any {
		return orValue(ev.charge(shallowSize(v)), v)
	}),
	guardFunc("_storeflow_call", 0, func(ev *evaluation, v any, _ []any) any {
		return orValue(ev.charge(callCost), v)
	}),
	guardFunc("_storeflow_made", 0, func(ev *evaluation, v any, _ []any) any {
		return orValue(ev.charge(shallowSize(v)), v)
	}),
	guardFunc("_storeflow_input", 1, func(ev *evaluation, v any, args []any) any {
		if n, deep := deepSize(v, ev.limits.MaxSize); n > ev.limits.MaxSize || deep {
			return ev.fail(fmt.Sprintf("it gives %v a value larger than %s or nested deeper than %d levels", args[0], FormatSize(ev.limits.MaxSize), maxDepth))
		}
		return v
	}),
	guardFunc("_storeflow_add", 2, func(ev *evaluation, _ any, args []any) any {
		l, r := args[0], args[1]
		v, ok := add(l, r)
		if !ok {
			v = delegate(addCode, l, r)
		}
		return orValue(ev.combined(v, l, r), v)
	}),
	guardFunc("_storeflow_mul", 2, func(ev *evaluation, _ any, args []any) any {
		l, r := args[0], args[1]
		v, ok := mul(l, r)
		if !ok {
			if err := ev.times(l, r); err != nil {
				return err
			}
			v = delegate(mulCode, l, r)
		}
		return orValue(ev.combined(v, l, r), v)
	}),
	guardFunc("_storeflow_tojson", 1, func(ev *evaluation, v any, args []any) any {
		if s, ok := v.(string); ok && args[0] == true {
			return s
		}
		if n, deep := deepSize(v, ev.limits.MaxSize); n > ev.limits.MaxSize || deep {
			return ev.fail(fmt.Sprintf("it serializes a value larger than %s or nested deeper than %d levels", FormatSize(ev.limits.MaxSize), maxDepth))
		}
		b, err := gojq.Marshal(v)
		if err != nil {
			return err
		}
		return orValue(ev.charge(16+int64(len(b))), string(b))
	}),
	guardFunc("_storeflow_path", 1, func(ev *evaluation, v any, args []any) any {
		if p, ok := args[0].([]any); ok {
			for _, k := range p {
				if err := ev.index(k); err != nil {
					return err
				}
			}
		}
		return v
	}),
	guardFunc("_storeflow_index", 0, func(ev *evaluation, v any, _ []any) any {
		return orValue(ev.index(v), v)
	}),
	guardFunc("_storeflow_transpose", 0, func(ev *evaluation, v any, _ []any) any {
		rows, ok := v.([]any)
		if !ok {
			return v
		}
		var longest int
		for _, r := range rows {
			if r, ok := r.([]any); ok && len(r) > longest {
				longest = len(r)
			}
		}
		return orValue(ev.charge(int64(len(rows))*(24+elementCost*int64(longest))), v)
	}),
}

func guardFunc(name string, arity int, f func(ev *evaluation, v any, args []any) any) gojq.CompilerOption {
	return gojq.WithFunction(name, arity+1, arity+1, func(v any, args []any) any {
		ev, ok := args[0].(*evaluation)
		if !ok {
			return fmt.Errorf("%s is reserved for storeflow", name)
		}
		return f(ev, v, args[1:])
	})
}

// add computes l + r as jq does for numbers that need no big integer,
// strings and null; ok is false for the rest, which delegate computes.
func add(l, r any) (v any, ok bool) {
	switch l := l.(type) {
	case nil:
		return r, true
	case int:
		switch r := r.(type) {
		case int:
			if v := l + r; (v >= l) == (r >= 0) {
				return v, true
			}
			return nil, false
		case float64:
			return float64(l) + r, true
		}
	case float64:
		switch r := r.(type) {
		case int:
			return l + float64(r), true
		case float64:
			return l + r, true
		}
	case string:
		if r, ok := r.(string); ok {
			return l + r, true
		}
	}
	if r == nil {
		return l, true
	}
	return nil, false
}

// mul computes l * r as jq does for numbers that need no big integer; ok
// is false for the rest.
func mul(l, r any) (v any, ok bool) {
	switch l := l.(type) {
	case int:
		switch r := r.(type) {
		case int:
			if r == -1 || l == -1 {
				return nil, false
			}
			if v := l * r; r == 0 || v/r == l {
				return v, true
			}
		case float64:
			return float64(l) * r, true
		}
	case float64:
		switch r := r.(type) {
		case int:
			return l * float64(r), true
		case float64:
			return l * r, true
		}
	}
	return nil, false
}

// addCode and mulCode compute what add and mul leave to gojq, so that
// arrays, objects, big integers, repeated strings and type errors behave
// exactly as in jq.
var addCode, mulCode = binop("$l + $r"), binop("$l * $r")

func binop(src string) *gojq.Code {
	q, err := gojq.Parse(src)
	if err != nil {
		panic(err)
	}
	code, err := gojq.Compile(q, gojq.WithVariables([]string{"$l", "$r"}))
	if err != nil {
		panic(err)
	}
	return code
}

func delegate(code *gojq.Code, l, r any) any {
	v, _ := code.Run(nil, l, r).Next()
	return v
}

func orValue(err error, v any) any {
	if err != nil {
		return err
	}
	return v
}

// combined checks the result of l + r or l * r: a string repeated counts
// whole; otherwise what was added is the smaller operand (the larger one is
// usually the accumulator of a reduce, which would make the count
// quadratic). No single value may exceed MaxSize.
func (ev *evaluation) combined(v, l, r any) error {
	if _, ok := v.(error); ok {
		return nil
	}
	if b, ok := v.(*big.Int); ok && len(b.Bits())*8 > maxNumberBytes {
		return ev.failFixed(fmt.Sprintf("it builds an integer of more than %s", FormatSize(maxNumberBytes)), maxNumberBytes)
	}
	size := shallowSize(v)
	if size > ev.limits.MaxSize {
		return ev.fail(fmt.Sprintf("it builds a value larger than %s", FormatSize(ev.limits.MaxSize)))
	}
	_, ls := l.(string)
	_, rs := r.(string)
	if _, ok := v.(string); ok && ls != rs {
		return ev.charge(size)
	}
	return ev.charge(min(shallowSize(l), shallowSize(r)))
}

// times checks l * r before it is computed: a string repeated or a product
// of integers could be too large to build at all.
func (ev *evaluation) times(l, r any) error {
	if _, ok := r.(string); ok {
		l, r = r, l
	}
	if s, ok := l.(string); ok {
		if n, ok := gojq.ToFloat64(r); ok && n > 0 {
			if float64(len(s))*n > float64(ev.limits.MaxSize) {
				return ev.fail(fmt.Sprintf("it repeats a string of %d bytes %v times, more than %s", len(s), n, FormatSize(ev.limits.MaxSize)))
			}
		}
		return nil
	}
	bits := func(v any) int {
		switch x := v.(type) {
		case *big.Int:
			return x.BitLen()
		case int:
			return 64
		}
		return 0
	}
	if bits(l)+bits(r) > 8*maxNumberBytes {
		return ev.failFixed(fmt.Sprintf("it builds an integer of more than %s", FormatSize(maxNumberBytes)), maxNumberBytes)
	}
	return nil
}

// index checks an array index that an assignment may extend an array to.
func (ev *evaluation) index(k any) error {
	n, ok := gojq.ToFloat64(k)
	if !ok {
		return nil
	}
	if n*elementCost > float64(ev.limits.MaxSize) {
		return ev.fail(fmt.Sprintf("it sets array index %v, which makes an array larger than %s", k, FormatSize(ev.limits.MaxSize)))
	}
	return nil
}

// guard rewrites a parsed query in place and records which shadows it needs.
type guard struct {
	uses map[string]bool
	err  error
}

// instrument rewrites q and returns it with the definitions it needs in
// front of its own.
func instrument(q *gojq.Query) (*gojq.Query, error) {
	g := &guard{uses: map[string]bool{}}
	g.query(q, false)
	if g.err != nil {
		return nil, g.err
	}
	var src strings.Builder
	for _, name := range slices.Sorted(maps.Keys(shadows)) {
		if g.uses[name] {
			src.WriteString(shadows[name])
			src.WriteString("\n")
		}
	}
	if src.Len() == 0 {
		return q, nil
	}
	src.WriteString(".")
	pre, err := gojq.Parse(src.String())
	if err != nil {
		return nil, fmt.Errorf("storeflow's expression guards: %w", err)
	}
	q.FuncDefs = append(pre.FuncDefs, q.FuncDefs...)
	return q, nil
}

func (g *guard) name(n string) {
	if reserved(n) && g.err == nil {
		g.err = fmt.Errorf("the name %s is reserved for storeflow; rename it", n)
	}
}

func call(name string, args ...*gojq.Query) *gojq.Query {
	state := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: stateVar}}}
	return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: append([]*gojq.Query{state}, args...)}}}
}

func pipe(l, r *gojq.Query) *gojq.Query {
	return &gojq.Query{Left: l, Op: gojq.OpPipe, Right: r}
}

// query walks q; inPath says q is the left side of an assignment, whose
// indices may extend arrays.
func (g *guard) query(q *gojq.Query, inPath bool) {
	if q == nil {
		return
	}
	for _, fd := range q.FuncDefs {
		g.name(fd.Name)
		for _, a := range fd.Args {
			g.name(a)
		}
		g.query(fd.Body, false)
		fd.Body = pipe(call("_storeflow_call"), fd.Body)
	}
	g.term(q.Term, inPath)
	for _, p := range q.Patterns {
		g.pattern(p)
	}
	switch q.Op {
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateSub, gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		g.query(q.Left, true)
		g.query(q.Right, false)
		return
	case gojq.OpUpdateAdd, gojq.OpUpdateMul:
		// l += r is r as $x | l |= . + $x (gojq compiles it so); spelled
		// out, the + can be guarded.
		g.query(q.Left, true)
		g.query(q.Right, false)
		name := "_storeflow_add"
		if q.Op == gojq.OpUpdateMul {
			name = "_storeflow_mul"
		}
		rhs := "$__storeflow_rhs"
		self := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeIdentity}}
		ref := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: rhs}}}
		update := call(name, self, ref)
		*q = gojq.Query{FuncDefs: q.FuncDefs, Left: q.Right, Op: gojq.OpPipe, Patterns: []*gojq.Pattern{{Name: rhs}},
			Right: &gojq.Query{Left: q.Left, Op: gojq.OpModify, Right: update}}
		return
	}
	pathOp := inPath && len(q.Patterns) == 0 && (q.Op == gojq.OpPipe || q.Op == gojq.OpComma || q.Op == gojq.OpAlt)
	g.query(q.Left, pathOp)
	g.query(q.Right, pathOp || inPath && q.Op == gojq.OpPipe)
	switch q.Op {
	case gojq.OpAdd, gojq.OpMul:
		name := "_storeflow_add"
		if q.Op == gojq.OpMul {
			name = "_storeflow_mul"
		}
		*q = gojq.Query{FuncDefs: q.FuncDefs, Term: call(name, q.Left, q.Right).Term}
	}
}

func (g *guard) pattern(p *gojq.Pattern) {
	if p == nil {
		return
	}
	g.name(p.Name)
	for _, e := range p.Array {
		g.pattern(e)
	}
	for _, o := range p.Object {
		g.name(o.Key)
		g.str(o.KeyString)
		g.query(o.KeyQuery, false)
		g.pattern(o.Val)
	}
}

func (g *guard) str(s *gojq.String) {
	if s == nil {
		return
	}
	if len(s.Queries) > 0 {
		g.uses["tostring"] = true
	}
	for _, q := range s.Queries {
		g.query(q, false)
	}
}

// interpolation spells out a string with interpolated parts the way gojq
// compiles it, "a\(x)" being "a" + (x | tostring), with the + guarded.
func (g *guard) interpolation(t *gojq.Term, f *gojq.Func) {
	if t.Str == nil || t.Str.Queries == nil {
		return
	}
	var q *gojq.Query
	for _, e := range t.Str.Queries {
		if e.Term == nil || e.Term.Str == nil {
			e = pipe(e, &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: f}})
		}
		if q == nil {
			q = e
		} else {
			q = call("_storeflow_add", q, e)
		}
	}
	*t = gojq.Term{Type: gojq.TermTypeQuery, Query: q, SuffixList: t.SuffixList}
}

func (g *guard) index(x *gojq.Index, inPath bool) {
	if x == nil {
		return
	}
	g.str(x.Str)
	g.query(x.Start, false)
	g.query(x.End, false)
	if inPath && !x.IsSlice && x.Start != nil {
		x.Start = pipe(x.Start, call("_storeflow_index"))
	}
}

func (g *guard) term(t *gojq.Term, inPath bool) {
	if t == nil {
		return
	}
	for _, s := range t.SuffixList {
		g.index(s.Index, inPath)
	}
	switch t.Type {
	case gojq.TermTypeIndex:
		g.index(t.Index, inPath)
	case gojq.TermTypeFunc:
		g.name(t.Func.Name)
		g.uses[t.Func.Name] = true
		// path(f), paths(f), del(f), to_entries … take paths; their
		// arguments are walked as values, which guards less but never
		// breaks a path expression.
		for _, a := range t.Func.Args {
			g.query(a, inPath)
		}
	case gojq.TermTypeObject:
		for _, kv := range t.Object.KeyVals {
			g.name(kv.Key)
			g.str(kv.KeyString)
			g.query(kv.KeyQuery, false)
			g.query(kv.Val, false)
		}
		obj := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeObject, Object: t.Object}}
		*t = gojq.Term{Type: gojq.TermTypeQuery, Query: pipe(obj, call("_storeflow_object")), SuffixList: t.SuffixList}
	case gojq.TermTypeArray:
		if t.Array.Query != nil {
			g.query(t.Array.Query, false)
			t.Array.Query = pipe(t.Array.Query, call("_storeflow_element"))
		}
	case gojq.TermTypeUnary:
		g.term(t.Unary.Term, false)
	case gojq.TermTypeFormat:
		f := &gojq.Func{Name: formatFuncs[t.Format]}
		if f.Name == "" {
			f = &gojq.Func{Name: "format", Args: []*gojq.Query{{Term: &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: t.Format[1:]}}}}}
		}
		g.uses[f.Name] = true
		g.str(t.Str)
		g.interpolation(t, f)
	case gojq.TermTypeString:
		g.str(t.Str)
		g.interpolation(t, &gojq.Func{Name: "tostring"})
	case gojq.TermTypeIf:
		g.query(t.If.Cond, false)
		g.query(t.If.Then, inPath)
		for _, e := range t.If.Elif {
			g.query(e.Cond, false)
			g.query(e.Then, inPath)
		}
		g.query(t.If.Else, inPath)
	case gojq.TermTypeTry:
		g.query(t.Try.Body, inPath)
		g.query(t.Try.Catch, false)
	case gojq.TermTypeReduce:
		g.query(t.Reduce.Query, false)
		for _, p := range t.Reduce.Patterns {
			g.pattern(p)
		}
		g.query(t.Reduce.Start, inPath)
		g.query(t.Reduce.Update, inPath)
	case gojq.TermTypeForeach:
		g.query(t.Foreach.Query, false)
		for _, p := range t.Foreach.Patterns {
			g.pattern(p)
		}
		g.query(t.Foreach.Start, false)
		g.query(t.Foreach.Update, false)
		g.query(t.Foreach.Extract, inPath)
	case gojq.TermTypeLabel:
		g.query(t.Label.Body, inPath)
	case gojq.TermTypeQuery:
		g.query(t.Query, inPath)
	}
}
