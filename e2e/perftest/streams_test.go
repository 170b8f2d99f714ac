package perftest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
	"github.com/firmly/session-transfer-filter/internal/headermap"
	"github.com/firmly/session-transfer-filter/internal/transfer"
)

// The bridge keeps each stream's context in a slot table of its own
// (plugin/bridge/slots.go): a thousand transfers open at once, their bodies
// and callout answers arriving in a shuffled order, each get their own
// context, so each answer is the cart of its own request (the cart id
// derives from the request's handle). A pass-through runs between every
// two of them, so contexts the plugin reuses (plugin/context.go) come and
// go while the transfers are open.
func TestThousandInterleavedStreamsEachGetTheirOwnContext(t *testing.T) {
	const n = 1000
	h := newPerfHost(t)
	e := nativeEngine(t)
	tok := perfToken(t, "HS256", -1)
	reqs := make([]*envoyhost.Request, n)
	want := make([]string, n)
	for i := range reqs {
		reqs[i] = transferRequest(tok)
		reqs[i].Body = fmt.Appendf(nil, `{"handle":"%08d-7b4d-4e8a-9c2f-5d6e7f8a9b0c"}`, i)
		want[i] = nativeCartID(t, e, reqs[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pass := perfScenarios()[0]
	streams := make([]*envoyhost.Stream, n)
	for i, r := range reqs {
		streams[i] = h.NewStream()
		streams[i].SendHeaders(r.HeaderPairs(), false)
		if resp, err := h.Do(ctx, pass.next(t, i)); err != nil || resp.Status != 200 || string(resp.Body) != appAnswer {
			t.Fatalf("pass-through %d: %v %+v", i, err, resp)
		}
	}
	order := rand.New(rand.NewPCG(3, 4)).Perm(n)
	for _, i := range order {
		streams[i].SendData(reqs[i].Body, true)
	}
	seen := map[string]int{}
	for i, s := range streams {
		resp, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := gjson.GetBytes(resp.Body, "cart_id").String()
		if resp.Status != 200 || got != want[i] {
			t.Fatalf("stream %d: %d with cart %q, want 200 with %q: %s", i, resp.Status, got, want[i], resp.Body)
		}
		if j, dup := seen[got]; dup {
			t.Fatalf("streams %d and %d answered the same cart %s", j, i, got)
		}
		seen[got] = i
	}
}

// nativeCartID is the cart id the engine answers r with, run natively.
func nativeCartID(t *testing.T, e *transfer.Engine, r *envoyhost.Request) string {
	t.Helper()
	now := time.Now()
	tr, step := e.Start(headermap.Pairs(r.HeaderPairs()), now)
	if step.Kind == transfer.AwaitBody {
		step = tr.OnBody(r.Body)
	}
	answers := []string{e2etest.LumaCart, backendAnswer}
	for i := 0; step.Kind == transfer.Dispatch && i < len(answers); i++ {
		step = tr.OnCalloutAnswer([]int{200, 201}[i], []byte(answers[i]), len(answers[i]), now)
	}
	if step.Kind != transfer.Reply || step.Reply.Status != 200 {
		t.Fatalf("natively: step %v", step)
	}
	return gjson.GetBytes(step.Reply.Body, "cart_id").String()
}
