package transfertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firmly/session-transfer-filter/e2e/e2etest"
	"github.com/firmly/session-transfer-filter/e2e/envoyhost"
)

func TestDefaultModeContinuesHeadersAndResetsTheUpstream(t *testing.T) {
	release := make(chan struct{})
	bodyBytes := make(chan int, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(release)
		n, _ := io.Copy(io.Discard, r.Body) // ends with the reset
		bodyBytes <- int(n)
	}))
	defer app.Close()
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.Clusters["app"] = envoyhost.Cluster{Addr: strings.TrimPrefix(app.URL, "http://")}
	}})
	s := st.Host.NewStream()
	r := st.Req(t, e2etest.ObjectBody)
	s.SendHeaders(r.HeaderPairs(), false)
	select { // Envoy's router opens the upstream request with the headers.
	case <-release:
	case <-time.After(5 * time.Second):
		t.Fatal("the route's upstream never saw the request head")
	}
	for i := 0; i < len(r.Body); i += 7 {
		s.SendData(r.Body[i:min(i+7, len(r.Body))], i+7 >= len(r.Body))
	}
	resp, err := s.Wait(e2etest.TestContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c := e2etest.CartOf(t, resp)
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
	if got := st.Merchant.Received()[0].Header.Get("x-firmly-session-key"); got != e2etest.ObjectHandleSK {
		t.Errorf("session key %s, want the SPEC's known answer", got)
	}
}

func TestPauseOnHeadersModeNeverContactsTheUpstream(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{ExtraConfig: `, "stream": {"pause_on_headers": true}`,
		HostConfig: func(c *envoyhost.Config) { c.AllowOnHeadersStopIteration = true }})
	r := st.Req(t, e2etest.ObjectBody)
	r.ChunkSize = 5
	s := st.Host.NewStream()
	s.Send(r)
	resp, err := s.Wait(e2etest.TestContext(t))
	if err != nil {
		t.Fatal(err)
	}
	e2etest.CartOf(t, resp)
	if strings.Contains(strings.Join(s.Events(), ";"), "upstream: open") || len(st.App.Received()) != 0 {
		t.Errorf("the route's upstream was contacted: %v", s.Events())
	}
}

// Documents why pause_on_headers needs allow_on_headers_stop_iteration:
// without it Envoy stops all iteration and the body never arrives.
func TestPauseOnHeadersModeHangsWithoutTheEnvoyOption(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{ExtraConfig: `, "stream": {"pause_on_headers": true}`})
	s := st.Host.NewStream()
	s.Send(st.Req(t, e2etest.ObjectBody))
	select {
	case <-s.Done():
		t.Fatal("answered although Envoy should have held the body")
	case <-time.After(200 * time.Millisecond):
	}
	s.Cancel()
	if n := len(st.Merchant.Received()); n != 0 {
		t.Errorf("merchant called %d times", n)
	}
}

func TestTrailersEndTheBody(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	r := st.Req(t, e2etest.ObjectBody)
	r.ChunkSize = 16
	r.Trailers = envoyhost.Pairs{{"x-checksum", "abc"}}
	e2etest.CartOf(t, st.Do(t, r))
}

func TestRepeatedTransferUpdatesTheSameSession(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	first := e2etest.CartOf(t, st.Do(t, st.Req(t, e2etest.ObjectBody)))
	// Same cookies in the other order: the same session.
	second := e2etest.CartOf(t, st.Do(t, st.Req(t, `{"handle":{"handle":"cart-12345","token":"9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},"cookies":["PHPSESSID=abc123","form_key=XyZ"]}`)))
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
	writes := st.Backend.Received()
	if len(writes) != 2 || writes[0].Path != writes[1].Path || writes[0].Path != "/v1/sessions/"+e2etest.ObjectHandleSK {
		t.Errorf("writes %+v, want two PUTs to the same session", writes)
	}
}

func TestClientGoneBeforeTheWriteMeansNoWrite(t *testing.T) {
	st := e2etest.NewStack(t, e2etest.StackOpts{})
	answered := make(chan struct{})
	hold := make(chan struct{})
	st.Merchant.Set(func(w http.ResponseWriter, r *http.Request) {
		close(answered)
		<-hold
		w.Write([]byte(e2etest.LumaCart))
	})
	s := st.Host.NewStream()
	s.Send(st.Req(t, e2etest.ObjectBody))
	<-answered
	s.Cancel()
	<-s.Done()
	close(hold)
	if err := st.Host.WaitCallouts(e2etest.TestContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(st.Backend.Received()); n != 0 {
		t.Errorf("backend got %d writes after the client left", n)
	}
	if err := st.Host.Worker(0).Failed(); err != nil {
		t.Errorf("VM failed: %v", err)
	}
}

func TestTransferOverTLSClusters(t *testing.T) {
	// The merchant and backend clusters use upstream TLS, as in envoy.yaml.
	merchant, backend := e2etest.NewService(t, true), e2etest.NewService(t, true)
	merchant.Answer(200, e2etest.LumaCart)
	backend.Answer(200, `{}`)
	st := e2etest.NewStack(t, e2etest.StackOpts{HostConfig: func(c *envoyhost.Config) {
		c.Clusters["merchant_luma"] = envoyhost.Cluster{Addr: merchant.Addr(), TLS: e2etest.TLSTo(merchant, e2etest.TestDomain)}
		c.Clusters["session_backend"] = envoyhost.Cluster{Addr: backend.Addr(), TLS: e2etest.TLSTo(backend, "sessions.internal")}
	}})
	e2etest.CartOf(t, st.Do(t, st.Req(t, e2etest.ObjectBody)))
	if len(merchant.Received()) != 1 || len(backend.Received()) != 1 {
		t.Errorf("merchant %d, backend %d calls", len(merchant.Received()), len(backend.Received()))
	}
}
