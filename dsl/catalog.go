package dsl

// Builtins is the runtime's default catalog of built-in functions as
// validation and the interpreter see it: a call of a name no workflow
// function defines is resolved here, by bare NAME or NAME:VERSION@default.
type Builtins interface {
	// Lookup finds a built-in function and returns the check of its
	// arguments against the function's schema.
	Lookup(ref string) (check func(args any) error, ok bool)
	// Names lists the built-ins by name, for suggestions.
	Names() []string
}
