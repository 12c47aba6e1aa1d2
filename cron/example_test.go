package cron_test

import (
	"fmt"
	"time"

	"github.com/storeflow/storeflow/cron"
)

func ExampleParse() {
	_, err := cron.Parse("0 25 * * *")
	fmt.Println(err)
	// Output: cron "0 25 * * *": hour field "25" is out of range 0-23
}

func ExampleSchedule_Next() {
	s, err := cron.Parse("0 9 * * MON-FRI")
	if err != nil {
		panic(err)
	}
	t := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) // a Thursday
	for range 3 {
		t = s.Next(t)
		fmt.Println(t.Format("Mon 2006-01-02 15:04"))
	}
	// Output:
	// Fri 2026-11-27 09:00
	// Mon 2026-11-30 09:00
	// Tue 2026-12-01 09:00
}
