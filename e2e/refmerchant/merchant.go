// Package refmerchant is a reference merchant that keeps to the session-export
// contract (SPEC §2.5) for a small Luma-style demo store. Sessions are made
// through its admin API or loaded from a fixture; stock is live and can be
// changed between transfers; faults can be injected per session or request.
//
// Export answers: 200 with the cart; 404 for an unknown handle, 401 for a
// wrong token or missing session cookies, 410 for an expired session.
package refmerchant

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/firmly/session-transfer-filter/e2e/faults"
)

// Product is a store product with its live stock.
type Product struct {
	SKU                string `json:"sku"`
	BaseSKU            string `json:"base_sku,omitempty"`
	VariantID          string `json:"variant_id,omitempty"`
	Description        string `json:"description"`
	VariantDescription string `json:"variant_description,omitempty"`
	UnitPrice          int64  `json:"unit_price"`
	MSRP               int64  `json:"msrp,omitempty"`
	ImageURL           string `json:"image_url,omitempty"`
	RequiresShipping   bool   `json:"requires_shipping"`
	Stock              int64  `json:"available_quantity"`
}

// Line is a cart line of a session.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Session is an external (merchant) session.
type Session struct {
	Handle  string            `json:"handle"`
	Token   string            `json:"token,omitempty"`
	Cookies map[string]string `json:"cookies,omitempty"` // required, by name
	Lines   []Line            `json:"lines"`
	Coupons []string          `json:"coupons,omitempty"`
	Expired bool              `json:"expired,omitempty"`
}

// Fixture is the JSON a merchant starts from.
type Fixture struct {
	Currency      string     `json:"currency"`
	PlatformID    string     `json:"platform_id"`
	ShippingTotal int64      `json:"shipping_total"`
	TaxPercent    int64      `json:"tax_percent"`
	Products      []*Product `json:"products"`
	Sessions      []*Session `json:"sessions"`
}

// Merchant is the reference service.
type Merchant struct {
	Faults faults.Set

	mu       sync.Mutex
	fixture  Fixture
	products map[string]*Product
	sessions map[string]*Session
	exports  int
}

// LoadFixture reads a fixture file.
func LoadFixture(path string) (*Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("refmerchant: fixture: %w", err)
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("refmerchant: fixture %s: %w", path, err)
	}
	return &f, nil
}

// New makes a merchant from a fixture.
func New(f *Fixture) *Merchant {
	m := &Merchant{fixture: *f, products: map[string]*Product{}, sessions: map[string]*Session{}}
	for _, p := range f.Products {
		cp := *p
		m.products[p.SKU] = &cp
	}
	for _, s := range f.Sessions {
		cp := *s
		m.sessions[s.Handle] = &cp
	}
	return m
}

// Exports counts the export calls answered so far.
func (m *Merchant) Exports() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exports
}

// SetStock changes a product's live stock.
func (m *Merchant) SetStock(sku string, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.products[sku]
	if p == nil {
		return fmt.Errorf("refmerchant: no product %q", sku)
	}
	p.Stock = n
	return nil
}

// AddSession creates a session; an empty handle gets a random UUID.
func (m *Merchant) AddSession(s Session) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Handle == "" {
		s.Handle = newUUID()
	}
	for _, l := range s.Lines {
		if m.products[l.SKU] == nil {
			return nil, fmt.Errorf("refmerchant: no product %q", l.SKU)
		}
		if l.Quantity < 1 {
			return nil, fmt.Errorf("refmerchant: line %q: quantity must be at least 1", l.SKU)
		}
	}
	cp := s
	m.sessions[s.Handle] = &cp
	return &cp, nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Handler serves the export endpoint and the admin API:
//
//	POST   /firmly/session/export            the contract's export call
//	POST   /_admin/sessions                  create a session (JSON Session)
//	DELETE /_admin/sessions/{handle}         expire a session
//	GET    /_admin/products                  list products with stock
//	PUT    /_admin/products/{sku}/stock      {"available_quantity": n}
//	POST   /_admin/faults, DELETE /_admin/faults
func (m *Merchant) Handler(exportPath string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+exportPath, m.export)
	mux.HandleFunc("POST /_admin/sessions", func(w http.ResponseWriter, r *http.Request) {
		var s Session
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		created, err := m.AddSession(s)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 201, created)
	})
	mux.HandleFunc("DELETE /_admin/sessions/{handle}", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		s := m.sessions[r.PathValue("handle")]
		if s == nil {
			w.WriteHeader(404)
			return
		}
		s.Expired = true
		w.WriteHeader(204)
	})
	mux.HandleFunc("GET /_admin/products", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		var out []*Product
		for _, p := range m.products {
			out = append(out, p)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("PUT /_admin/products/{sku}/stock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			N *int64 `json:"available_quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.N == nil || *body.N < 0 {
			writeJSON(w, 400, map[string]string{"error": `want {"available_quantity": n >= 0}`})
			return
		}
		if err := m.SetStock(r.PathValue("sku"), *body.N); err != nil {
			writeJSON(w, 404, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	mux.Handle("/_admin/faults", m.Faults.Handler())
	return mux
}

type exportRequest struct {
	Domain  string          `json:"domain"`
	Handle  json.RawMessage `json:"handle"`
	Cookies []string        `json:"cookies"`
}

func (m *Merchant) export(w http.ResponseWriter, r *http.Request) {
	var req exportRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]string{"error": "bad export request"})
		return
	}
	handle, token := parseHandle(req.Handle)
	if m.Faults.Apply(w, handle) {
		return
	}
	cookies := map[string]string{}
	for _, c := range req.Cookies {
		name, value, _ := strings.Cut(c, "=")
		cookies[name] = value
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.exports++
	s := m.sessions[handle]
	switch {
	case s == nil:
		writeJSON(w, 404, map[string]string{"error": "unknown session"})
		return
	case s.Token != "" && s.Token != token:
		writeJSON(w, 401, map[string]string{"error": "token mismatch"})
		return
	case s.Expired:
		writeJSON(w, 410, map[string]string{"error": "session expired"})
		return
	}
	for name, want := range s.Cookies {
		if cookies[name] != want {
			writeJSON(w, 401, map[string]string{"error": "session cookie missing"})
			return
		}
	}
	writeJSON(w, 200, map[string]any{"cart": m.cartLocked(s)})
}

// parseHandle reads a string handle, or handle.handle and handle.token.
func parseHandle(raw json.RawMessage) (handle, token string) {
	if json.Unmarshal(raw, &handle) == nil {
		return handle, ""
	}
	var obj struct{ Handle, Token string }
	json.Unmarshal(raw, &obj)
	return obj.Handle, obj.Token
}

func (m *Merchant) cartLocked(s *Session) map[string]any {
	lines := []map[string]any{}
	var sub int64
	for i, l := range s.Lines {
		p := m.products[l.SKU]
		line := map[string]any{
			"platform_line_item_id": fmt.Sprint(i), "sku": p.SKU, "description": p.Description,
			"quantity": l.Quantity, "unit_price": p.UnitPrice, "requires_shipping": p.RequiresShipping,
			"available_quantity": p.Stock,
		}
		for k, v := range map[string]string{"base_sku": p.BaseSKU, "variant_id": p.VariantID, "variant_description": p.VariantDescription} {
			if v != "" {
				line[k] = v
			}
		}
		if p.MSRP > 0 {
			line["msrp"] = p.MSRP
		}
		if p.ImageURL != "" {
			line["image"] = map[string]string{"url": p.ImageURL, "alt": p.Description}
		}
		sub += p.UnitPrice * l.Quantity
		lines = append(lines, line)
	}
	coupons := s.Coupons
	if coupons == nil {
		coupons = []string{}
	}
	return map[string]any{
		"platform_id": m.fixture.PlatformID, "currency": m.fixture.Currency, "line_items": lines,
		"shipping_total": m.fixture.ShippingTotal, "tax_total": sub * m.fixture.TaxPercent / 100, "coupons": coupons,
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
