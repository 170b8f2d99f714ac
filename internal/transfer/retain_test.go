package transfer

import (
	"bytes"
	"testing"
)

// The plugin hands OnBody and OnCalloutAnswer bytes in a buffer the VM
// reuses for the next read (plugin/bridge: PeekHttpRequestBody,
// PeekHttpCallResponseBody), so a transfer must copy whatever it keeps.
// Overwriting the bytes after each call must change nothing it sends or
// answers.
func TestTransferKeepsNoReferenceToTheBytesItIsHanded(t *testing.T) {
	run := func(clobber bool) (export, record, reply []byte) {
		e := engine(t)
		tr, step := e.Start(headers("POST", path, authz, json_), now)
		if step.Kind != AwaitBody {
			t.Fatalf("Start: %+v", step)
		}
		body := []byte(`{"handle":{"handle":"cart-1","token":"` + uuid + `","merchantData":{"a":[1,"x"]}},"cookies":["a=1",{"name":"b","value":"2"}]}`)
		step = tr.OnBody(body)
		if clobber {
			copy(body, bytes.Repeat([]byte("#"), len(body)))
		}
		if step.Kind != Dispatch {
			t.Fatalf("OnBody: %+v", step)
		}
		export = append([]byte(nil), step.Callout.Body...)
		answer := []byte(cartJSON)
		step = tr.OnCalloutAnswer(200, answer, len(answer), now)
		if clobber {
			copy(answer, bytes.Repeat([]byte("#"), len(answer)))
		}
		if step.Kind != Dispatch {
			t.Fatalf("merchant answer: %+v", step)
		}
		record = append([]byte(nil), step.Callout.Body...)
		step = tr.OnCalloutAnswer(201, nil, 0, now)
		if step.Kind != Reply {
			t.Fatalf("backend answer: %+v", step)
		}
		return export, record, step.Reply.Body
	}
	e1, r1, a1 := run(false)
	e2, r2, a2 := run(true)
	if !bytes.Equal(e1, e2) || !bytes.Equal(r1, r2) || !bytes.Equal(a1, a2) {
		t.Errorf("what the transfer sent changed with the bytes it was handed:\nexport %s\n    vs %s\nrecord %s\n    vs %s\nanswer %s\n    vs %s", e1, e2, r1, r2, a1, a2)
	}
}
