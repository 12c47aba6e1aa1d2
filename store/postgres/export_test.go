package postgres

import "io/fs"

// Migrations lists the migration files the store applies (for tests).
func Migrations() []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	return names
}
