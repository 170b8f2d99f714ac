// Package apierror is the catalogue of errors the transfer endpoint answers
// with (SPEC §2.8) and their JSON body.
package apierror

import (
	"encoding/json"
	"fmt"
)

// Kind is one documented error: its HTTP status and its name.
type Kind struct {
	Status int
	Name   string
}

// The catalogue.
var (
	InvalidInputBody        = Kind{400, "ErrorInvalidInputBody"}
	MissingAuthHeader       = Kind{401, "MissingAuthHeader"}
	MethodNotAllowed        = Kind{405, "ErrorMethodNotAllowed"}
	PayloadTooLarge         = Kind{413, "ErrorPayloadTooLarge"}
	CannotTransferSession   = Kind{422, "ErrorCannotTransferSession"}
	NoLineItem              = Kind{422, "ErrorNoLineItem"}
	NotEnoughStock          = Kind{422, "ErrorNotEnoughStock"}
	Internal                = Kind{500, "ErrorInternal"}
	InvalidMerchantResponse = Kind{502, "ErrorInvalidMerchantResponse"}
	StoreUnavailable        = Kind{503, "ErrorStoreUnavailable"}
	SessionStoreUnavailable = Kind{503, "ErrorSessionStoreUnavailable"}
	AuthUnavailable         = Kind{503, "ErrorAuthUnavailable"}
)

// All lists the catalogue, for documentation and tests.
var All = []Kind{
	InvalidInputBody, MissingAuthHeader, MethodNotAllowed, PayloadTooLarge, CannotTransferSession,
	NoLineItem, NotEnoughStock, Internal, InvalidMerchantResponse, StoreUnavailable, SessionStoreUnavailable, AuthUnavailable,
}

// Error is an answer to the client. Description must never carry a token,
// a JWT, a cookie value or a secret.
type Error struct {
	Kind        Kind
	Description string
}

// New makes an Error with a formatted description.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Description: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Kind.Name + ": " + e.Description }

// Body is the JSON body: {"code", "error", "description", "message"}.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(struct {
		Code        int    `json:"code"`
		Error       string `json:"error"`
		Description string `json:"description"`
		Message     string `json:"message"`
	}{e.Kind.Status, e.Kind.Name, e.Description, e.Description})
	return b
}
