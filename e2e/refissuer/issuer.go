// Package refissuer is a reference device-token issuer: it serves its public
// keys as a JWKS, the way an identity provider does, so the filter's
// auth.remote_jwks can fetch them (SPEC §2.2b), and it mints ES256 device
// tokens for development.
//
// It starts with the development key of e2e/dev/device-token-key.jwk (kid
// dev-1). Admin calls rotate the key and mint tokens:
//
//	GET  /.well-known/jwks.json   the public key set: only the current key
//	POST /_admin/rotate           a new ES256 key with the next kid (dev-2, dev-3, ...)
//	                              replaces the current one; answers {"kid": ...}
//	POST /_admin/tokens           {"device_id", "app_id", "ttl_seconds"} (all optional)
//	                              answers {"token", "kid", "expires_at"}
//
// A rotation removes the old key from the set at once, so once the filter
// has refreshed, tokens of the old key are refused. (A real issuer publishes
// the next key before it signs with it and keeps the old one until its
// tokens expire; this one shows the removal.) Development only: the admin
// calls are not authenticated.
package refissuer

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cristalhq/jwt/v4"
)

// JWKSPath is where the key set is served.
const JWKSPath = "/.well-known/jwks.json"

// Issuer is the reference issuer. It is safe for concurrent use.
type Issuer struct {
	mu      sync.Mutex
	key     *ecdsa.PrivateKey
	kid     string
	serial  int // the number in the current kid
	fetches int
	now     func() time.Time
}

// Load starts an issuer from a private JWK file such as
// e2e/dev/device-token-key.jwk.
func Load(path string) (*Issuer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("refissuer: signing key: %w", err)
	}
	return New(raw)
}

// New starts an issuer from a private EC P-256 JWK.
func New(privateJWK []byte) (*Issuer, error) {
	var k struct{ Kty, Crv, Kid, X, Y, D string }
	if err := json.Unmarshal(privateJWK, &k); err != nil {
		return nil, fmt.Errorf("refissuer: signing key: %w", err)
	}
	if k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" {
		return nil, errors.New("refissuer: signing key must be an EC P-256 JWK with a kid")
	}
	var nums [3]*big.Int
	for i, s := range []string{k.X, k.Y, k.D} {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, errors.New("refissuer: signing key: x, y and d must be 32-byte base64url")
		}
		nums[i] = new(big.Int).SetBytes(b)
	}
	key := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: elliptic.P256(), X: nums[0], Y: nums[1]}, D: nums[2]}
	if !key.Curve.IsOnCurve(key.X, key.Y) {
		return nil, errors.New("refissuer: signing key is not on P-256")
	}
	i := &Issuer{key: key, kid: k.Kid, now: time.Now}
	i.serial = kidSerial(k.Kid)
	return i, nil
}

// kidSerial is n for a kid "<prefix>-<n>", else 1.
func kidSerial(kid string) int {
	if at := strings.LastIndexByte(kid, '-'); at >= 0 {
		if n, err := strconv.Atoi(kid[at+1:]); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// Kid is the id of the current signing key.
func (i *Issuer) Kid() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.kid
}

// Fetches is how many times the JWKS was served.
func (i *Issuer) Fetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches
}

// Rotate replaces the signing key with a new one and returns its kid.
func (i *Issuer) Rotate() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("refissuer: new key: %w", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	prefix := "dev"
	if at := strings.LastIndexByte(i.kid, '-'); at > 0 {
		prefix = i.kid[:at]
	}
	i.key, i.kid = key, fmt.Sprintf("%s-%d", prefix, i.serial)
	return i.kid, nil
}

// JWKS is the public key set: the current key only.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksLocked()
}

func (i *Issuer) jwksLocked() []byte {
	b := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	return fmt.Appendf(nil, `{"keys":[{"kty":"EC","crv":"P-256","kid":%q,"alg":"ES256","use":"sig","x":%q,"y":%q}]}`+"\n",
		i.kid, b(i.key.X), b(i.key.Y))
}

// Mint signs a device token with the current key.
func (i *Issuer) Mint(deviceID, appID string, ttl time.Duration) (token, kid string, exp time.Time, err error) {
	i.mu.Lock()
	key, kid := i.key, i.kid
	now := i.now()
	i.mu.Unlock()
	signer, err := jwt.NewSignerES(jwt.ES256, key)
	if err != nil {
		return "", "", time.Time{}, err
	}
	exp = now.Add(ttl)
	claims := map[string]any{"device_id": deviceID, "iat": now.Unix(), "exp": exp.Unix()}
	if appID != "" {
		claims["app_id"] = appID
	}
	tok, err := jwt.NewBuilder(signer, jwt.WithKeyID(kid)).Build(claims)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return tok.String(), kid, exp, nil
}

// TokenRequest is the body of POST /_admin/tokens.
type TokenRequest struct {
	DeviceID   string `json:"device_id"`
	AppID      string `json:"app_id"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

// TokenResponse is its answer.
type TokenResponse struct {
	Token     string `json:"token"`
	Kid       string `json:"kid"`
	ExpiresAt int64  `json:"expires_at"`
}

// Handler serves the JWKS and the admin calls.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		i.mu.Lock()
		i.fetches++
		body := i.jwksLocked()
		i.mu.Unlock()
		w.Header().Set("content-type", "application/json")
		w.Header().Set("cache-control", "max-age=60")
		w.Write(body)
	})
	mux.HandleFunc("POST /_admin/rotate", func(w http.ResponseWriter, _ *http.Request) {
		kid, err := i.Rotate()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
	})
	mux.HandleFunc("POST /_admin/tokens", func(w http.ResponseWriter, r *http.Request) {
		req := TokenRequest{AppID: "local-dev"} // device_id and ttl_seconds default below, also when sent empty
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
				return
			}
		}
		req.DeviceID, req.TTLSeconds = cmp.Or(req.DeviceID, "dev-device-1"), cmp.Or(req.TTLSeconds, 3600)
		tok, kid, exp, err := i.Mint(req.DeviceID, req.AppID, time.Duration(req.TTLSeconds)*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, TokenResponse{Token: tok, Kid: kid, ExpiresAt: exp.Unix()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// MintFrom asks a running issuer at baseURL for a token (POST /_admin/tokens).
func MintFrom(client *http.Client, baseURL string, req TokenRequest) (TokenResponse, error) {
	var out TokenResponse
	body, _ := json.Marshal(req)
	resp, err := client.Post(strings.TrimRight(baseURL, "/")+"/_admin/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		return out, fmt.Errorf("refissuer: mint: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("refissuer: mint: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("refissuer: mint: %w", err)
	}
	return out, nil
}
