package clock_test

import (
	"fmt"
	"time"

	"github.com/storeflow/storeflow/clock"
)

func ExampleVirtual() {
	v := clock.NewVirtual(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	reminder := v.After(7 * 24 * time.Hour)
	v.AdvanceToNext() // a week passes at once
	fmt.Println((<-reminder).Format(time.DateTime))
	// Output: 2026-11-30 09:00:00
}
