package cron_test

import (
	"fmt"
	"time"

	"github.com/storeflow/storeflow/cron"
)

func ExampleSchedule_Next() {
	s, err := cron.Parse("0 9 * * MON")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Next(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)).Format(time.DateTime))
	// Output: 2026-11-30 09:00:00
}
