package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

const objectBody = `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["form_key=XyZ","PHPSESSID=abc123"]}`

func cartOf(t *testing.T, resp *envoyhost.Response) map[string]any {
	t.Helper()
	if resp.Status != 200 {
		t.Fatalf("got %d %s", resp.Status, resp.Body)
	}
	var c map[string]any
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDefaultModeContinuesHeadersAndResetsTheUpstream(t *testing.T) {
	release := make(chan struct{})
	bodyBytes := make(chan int, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(release)
		n, _ := io.Copy(io.Discard, r.Body) // ends with the reset
		bodyBytes <- int(n)
	}))
	defer app.Close()
	st := newStack(t, stackOpts{hostConfig: func(c *envoyhost.Config) {
		c.Clusters["app"] = envoyhost.Cluster{Addr: strings.TrimPrefix(app.URL, "http://")}
	}})
	s := st.host.NewStream()
	r := st.req(t, objectBody)
	s.SendHeaders(r.HeaderPairs(), false)
	select { // Envoy's router opens the upstream request with the headers.
	case <-release:
	case <-time.After(5 * time.Second):
		t.Fatal("the route's upstream never saw the request head")
	}
	for i := 0; i < len(r.Body); i += 7 {
		s.SendData(r.Body[i:min(i+7, len(r.Body))], i+7 >= len(r.Body))
	}
	resp, err := s.Wait(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c := cartOf(t, resp)
	if c["cart_status"] != "active" {
		t.Errorf("cart %v", c)
	}
	ev := strings.Join(s.Events(), "; ")
	if !strings.Contains(ev, "upstream: open app") || !strings.Contains(ev, "upstream: reset") {
		t.Errorf("events %s: want the upstream opened, then reset by the local response", ev)
	}
	select {
	case n := <-bodyBytes:
		if n != 0 {
			t.Errorf("the route's upstream received %d body bytes", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was not reset")
	}
	if got := st.merchant.received()[0].Header.Get("x-firmly-session-key"); got != objectHandleSK {
		t.Errorf("session key %s, want the SPEC's known answer", got)
	}
}

func TestPauseOnHeadersModeNeverContactsTheUpstream(t *testing.T) {
	st := newStack(t, stackOpts{extraConfig: `, "stream": {"pause_on_headers": true}`,
		hostConfig: func(c *envoyhost.Config) { c.AllowOnHeadersStopIteration = true }})
	r := st.req(t, objectBody)
	r.ChunkSize = 5
	s := st.host.NewStream()
	s.Send(r)
	resp, err := s.Wait(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	cartOf(t, resp)
	if strings.Contains(strings.Join(s.Events(), ";"), "upstream: open") || len(st.app.received()) != 0 {
		t.Errorf("the route's upstream was contacted: %v", s.Events())
	}
}

// Documents why pause_on_headers needs allow_on_headers_stop_iteration:
// without it Envoy stops all iteration and the body never arrives.
func TestPauseOnHeadersModeHangsWithoutTheEnvoyOption(t *testing.T) {
	st := newStack(t, stackOpts{extraConfig: `, "stream": {"pause_on_headers": true}`})
	s := st.host.NewStream()
	s.Send(st.req(t, objectBody))
	select {
	case <-s.Done():
		t.Fatal("answered although Envoy should have held the body")
	case <-time.After(200 * time.Millisecond):
	}
	s.Cancel()
	if n := len(st.merchant.received()); n != 0 {
		t.Errorf("merchant called %d times", n)
	}
}

func TestTrailersEndTheBody(t *testing.T) {
	st := newStack(t, stackOpts{})
	r := st.req(t, objectBody)
	r.ChunkSize = 16
	r.Trailers = envoyhost.Pairs{{"x-checksum", "abc"}}
	cartOf(t, st.do(t, r))
}

func TestRepeatedTransferUpdatesTheSameSession(t *testing.T) {
	st := newStack(t, stackOpts{})
	first := cartOf(t, st.do(t, st.req(t, objectBody)))
	// Same cookies in the other order: the same session.
	second := cartOf(t, st.do(t, st.req(t, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["PHPSESSID=abc123","form_key=XyZ"]}`)))
	if first["cart_id"] != second["cart_id"] {
		t.Errorf("cart ids differ: %v, %v", first["cart_id"], second["cart_id"])
	}
	items := func(c map[string]any) string {
		var ids []string
		for _, li := range c["line_items"].([]any) {
			ids = append(ids, li.(map[string]any)["line_item_id"].(string))
		}
		return strings.Join(ids, ",")
	}
	if items(first) != items(second) {
		t.Errorf("line item ids differ")
	}
	writes := st.backend.received()
	if len(writes) != 2 || writes[0].Path != writes[1].Path || writes[0].Path != "/v1/sessions/"+objectHandleSK {
		t.Errorf("writes %+v, want two PUTs to the same session", writes)
	}
}

func TestClientGoneBeforeTheWriteMeansNoWrite(t *testing.T) {
	st := newStack(t, stackOpts{})
	answered := make(chan struct{})
	hold := make(chan struct{})
	st.merchant.set(func(w http.ResponseWriter, r *http.Request) {
		close(answered)
		<-hold
		w.Write([]byte(lumaCart))
	})
	s := st.host.NewStream()
	s.Send(st.req(t, objectBody))
	<-answered
	s.Cancel()
	<-s.Done()
	close(hold)
	if err := st.host.WaitCallouts(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(st.backend.received()); n != 0 {
		t.Errorf("backend got %d writes after the client left", n)
	}
	if err := st.host.Worker(0).Failed(); err != nil {
		t.Errorf("VM failed: %v", err)
	}
}

func TestTransferOverTLSClusters(t *testing.T) {
	// The merchant and backend clusters use upstream TLS, as in envoy.yaml.
	merchant, backend := newService(t, true), newService(t, true)
	merchant.answer(200, lumaCart)
	backend.answer(200, `{}`)
	st := newStack(t, stackOpts{hostConfig: func(c *envoyhost.Config) {
		c.Clusters["merchant_luma"] = envoyhost.Cluster{Addr: merchant.addr(), TLS: tlsTo(merchant, testDomain)}
		c.Clusters["session_backend"] = envoyhost.Cluster{Addr: backend.addr(), TLS: tlsTo(backend, "sessions.internal")}
	}})
	cartOf(t, st.do(t, st.req(t, objectBody)))
	if len(merchant.received()) != 1 || len(backend.received()) != 1 {
		t.Errorf("merchant %d, backend %d calls", len(merchant.received()), len(backend.received()))
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
