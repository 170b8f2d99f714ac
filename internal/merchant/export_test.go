package merchant

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/firmly/session-transfer-filter/internal/sessionkey"
)

// exportBodyByMarshal is ExportRequestBody as it was written with
// json.Marshal, kept to hold the hand-written encoder to it.
func exportBodyByMarshal(domain, rawHandle string, cookies []sessionkey.Cookie) []byte {
	var b strings.Builder
	d, _ := json.Marshal(domain)
	b.WriteString(`{"domain":`)
	b.Write(d)
	b.WriteString(`,"handle":`)
	b.WriteString(rawHandle)
	b.WriteString(`,"cookies":[`)
	for i, c := range sessionkey.Sorted(cookies) {
		if i > 0 {
			b.WriteByte(',')
		}
		s, _ := json.Marshal(c.Name + "=" + c.Value)
		b.Write(s)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func FuzzExportRequestBodyMatchesMarshal(f *testing.F) {
	f.Add("luma.gift", `{"handle":"h"}`, "form_key", "XyZ", "PHPSESSID", "abc<&>")
	f.Add("\u2028", `"h"`, "\xff", "\x00", "", "")
	f.Fuzz(func(t *testing.T, domain, handle, n1, v1, n2, v2 string) {
		cookies := []sessionkey.Cookie{{Name: n1, Value: v1}, {Name: n2, Value: v2}}
		want := exportBodyByMarshal(domain, handle, cookies)
		if got := ExportRequestBody(domain, handle, cookies); string(got) != string(want) {
			t.Errorf("got %s\nwant %s", got, want)
		}
	})
}
