package apierror

import (
	"encoding/json"
	"testing"
)

// bodyByMarshal is Body as it was written with json.Marshal.
func bodyByMarshal(e *Error) []byte {
	b, _ := json.Marshal(struct {
		Code        int    `json:"code"`
		Error       string `json:"error"`
		Description string `json:"description"`
		Message     string `json:"message"`
	}{e.Kind.Status, e.Kind.Name, e.Description, e.Description})
	return b
}

func TestBodyKnownAnswer(t *testing.T) {
	got := string(New(MissingAuthHeader, "x-firmly-authorization header is missing").Body())
	want := `{"code":401,"error":"MissingAuthHeader","description":"x-firmly-authorization header is missing","message":"x-firmly-authorization header is missing"}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRepeatedBodyIsTheSameAnswer(t *testing.T) {
	e := New(PayloadTooLarge, "body larger than %d bytes", 65536)
	first, second := e.Body(), New(PayloadTooLarge, "body larger than 65536 bytes").Body()
	if string(first) != string(second) || string(first) != string(bodyByMarshal(e)) {
		t.Errorf("got %s then %s, want %s", first, second, bodyByMarshal(e))
	}
	if other := New(InvalidInputBody, "body larger than 65536 bytes").Body(); string(other) == string(first) {
		t.Errorf("a different kind answered the cached body %s", other)
	}
}

func FuzzBodyMatchesMarshal(f *testing.F) {
	f.Add(0, "handle: missing")
	f.Add(7, "<script>&\u2028\xff\"")
	f.Fuzz(func(t *testing.T, kind int, desc string) {
		e := &Error{Kind: All[uint(kind)%uint(len(All))], Description: desc}
		want := bodyByMarshal(e)
		for range 2 { // built, then (for a short description) cached
			if got := e.Body(); string(got) != string(want) {
				t.Fatalf("got %s\nwant %s", got, want)
			}
		}
	})
}
