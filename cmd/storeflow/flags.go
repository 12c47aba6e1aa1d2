package main

import (
	"flag"
	"strings"
)

// reorderFlags lets flags follow the arguments (storeflow run wf.yaml
// --input …, storeflow validate wf.yaml --json), which the flag package
// stops at: the flags go first, each with its value unless it is a
// boolean one, then the arguments. "--" ends the flags.
func reorderFlags(fl *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) == 1 {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") || isBoolFlag(fl, name) || i+1 >= len(args) {
			continue
		}
		flags = append(flags, args[i+1])
		i++
	}
	return append(flags, rest...)
}

// isBoolFlag reports whether a flag takes no value. Unknown ones (-h and
// --help among them) are taken as such: Parse reports them.
func isBoolFlag(fl *flag.FlagSet, name string) bool {
	f := fl.Lookup(name)
	if f == nil {
		return true
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
