// Package refbackend is a reference session backend that keeps to SPEC §2.6:
// PUT {prefix}{session_key} stores the session record in one bbolt
// transaction (atomic), and storing the same key again replaces it
// (idempotent); GET returns it. Data lives in a file and survives restarts.
package refbackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/firmly/session-transfer-filter/e2e/faults"
)

var bucket = []byte("sessions")

// Backend is the reference session store.
type Backend struct {
	Faults faults.Set
	db     *bolt.DB
	prefix string
}

// Open opens (or creates) the store at path. prefix is the path prefix of
// the session resource, e.g. /v1/sessions/.
func Open(path, prefix string) (*Backend, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("refbackend: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("refbackend: init %s: %w", path, err)
	}
	return &Backend{db: db, prefix: prefix}, nil
}

// Close closes the store.
func (b *Backend) Close() error { return b.db.Close() }

// Get returns a stored record.
func (b *Backend) Get(key string) ([]byte, bool) {
	var out []byte
	b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, out != nil
}

// Count is the number of stored sessions.
func (b *Backend) Count() int {
	n := 0
	b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	return n
}

// Put stores a record in one transaction and reports whether it was new.
func (b *Backend) Put(key string, record []byte) (created bool, err error) {
	err = b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		created = bk.Get([]byte(key)) == nil
		return bk.Put([]byte(key), record)
	})
	return created, err
}

type record struct {
	SessionKey    string          `json:"session_key"`
	DeviceID      string          `json:"device_id"`
	Domain        string          `json:"domain"`
	Cart          json.RawMessage `json:"cart"`
	TransferredAt int64           `json:"transferred_at"`
}

var errBadRecord = errors.New("bad session record")

func validate(key string, r *http.Request, body []byte) error {
	var rec record
	if err := json.Unmarshal(body, &rec); err != nil {
		return fmt.Errorf("%w: %v", errBadRecord, err)
	}
	switch {
	case rec.SessionKey != key:
		return fmt.Errorf("%w: session_key does not match the path", errBadRecord)
	case r.Header.Get("idempotency-key") != key:
		return fmt.Errorf("%w: idempotency-key does not match the path", errBadRecord)
	case rec.DeviceID == "" || r.Header.Get("x-firmly-device-id") != rec.DeviceID:
		return fmt.Errorf("%w: device_id missing or not the x-firmly-device-id header", errBadRecord)
	case rec.Domain == "" || len(rec.Cart) == 0 || rec.TransferredAt <= 0:
		return fmt.Errorf("%w: domain, cart and transferred_at are required", errBadRecord)
	}
	return nil
}

// Handler serves PUT and GET {prefix}{key} and the fault admin API at
// /_admin/faults.
func (b *Backend) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/_admin/faults", b.Faults.Handler())
	mux.HandleFunc(b.prefix, func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, b.prefix)
		if key == "" || strings.Contains(key, "/") {
			http.NotFound(w, r)
			return
		}
		if b.Faults.Apply(w, key) {
			return
		}
		switch r.Method {
		case http.MethodGet:
			v, ok := b.Get(key)
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("content-type", "application/json")
			w.Write(v)
		case http.MethodPut:
			body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
			if err == nil {
				err = validate(key, r, body)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			created, err := b.Put(key, body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			status := http.StatusOK
			if created {
				status = http.StatusCreated
			}
			w.Header().Set("content-type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"session_key":%q}`, key)
		default:
			w.Header().Set("allow", "GET, PUT")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	return mux
}
