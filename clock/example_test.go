package clock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/clock"
)

// A test drives code that waits on the clock: it waits until the code is
// asleep, then jumps to its wake-up time, so a week passes at once.
func ExampleVirtual() {
	v := clock.NewVirtual(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()

	done := make(chan struct{})
	go func(c clock.Clock) { // code under test sees only a Clock
		defer close(done)
		if err := c.Sleep(ctx, 7*24*time.Hour); err != nil {
			return
		}
		fmt.Println("reminder sent at", c.Now().Format(time.DateTime))
	}(v)

	if err := v.BlockUntil(ctx, 1); err != nil {
		panic(err)
	}
	v.AdvanceToNext()
	<-done
	// Output: reminder sent at 2026-11-30 09:00:00
}

func ExampleVirtual_Advance() {
	v := clock.NewVirtual(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	soon, later := v.After(time.Hour), v.After(3*time.Hour)

	v.Advance(2 * time.Hour)
	fmt.Println("fired at", (<-soon).Format(time.TimeOnly), "now", v.Now().Format(time.TimeOnly), "pending", v.Pending())
	v.Advance(time.Hour)
	fmt.Println("fired at", (<-later).Format(time.TimeOnly), "pending", v.Pending())
	// Output:
	// fired at 10:00:00 now 11:00:00 pending 1
	// fired at 12:00:00 pending 0
}
