package envoyhost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// strictJSON reports whether raw is JSON as jwt_verify_lib's parser
// (protobuf's JSON parser into a Struct) accepts it, where encoding/json is
// laxer: a duplicate member name at any depth is refused (encoding/json
// keeps the last), and so is text that is not UTF-8 (encoding/json
// replaces it). Both pinned against Envoy 1.38 and 1.40 by
// realenvoy.TestRealEnvoyDelegated ("duplicate ...", "claims not UTF-8").
func strictJSON(raw []byte) error {
	if !utf8.Valid(raw) {
		return errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := strictValue(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("text after the value")
	}
	return nil
}

// strictValue reads one value, refusing a repeated member name in any object.
func strictValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := k.(string)
			if seen[name] {
				return fmt.Errorf("duplicate member %q", name)
			}
			seen[name] = true
			if err := strictValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := strictValue(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
