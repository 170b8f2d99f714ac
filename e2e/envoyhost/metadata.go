package envoyhost

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"
)

// Dynamic metadata and proxy_get_property on metadata.* paths, as Envoy's
// Context::getProperty walks them (source/extensions/common/wasm/
// context.cc): "metadata" is the stream's Metadata message,
// "filter_metadata" its map, a namespace a Struct, then each segment a key
// of a Struct or an index of a list. The leaf is serialised without its
// type (serializeValue): a string as its bytes, a number as an 8-byte
// little-endian double, a bool as one byte, a Struct or list as proxy-wasm
// pairs (a list's values empty), a null cannot be serialised. A missing
// step is NotFound.

// metadataProperty answers a property path whose first segment is
// "metadata" (segments split on NUL), with an ABI status.
func metadataProperty(md map[string]*structpb.Struct, segs []string) (out []byte, status uint64) {
	if len(segs) < 2 || segs[1] != "filter_metadata" {
		return nil, statusNotFound
	}
	if len(segs) == 2 {
		pairs := make([][2]string, 0, len(md))
		for ns, s := range md {
			v, st := serializeValue(structpb.NewStructValue(s))
			if st != statusOK {
				return nil, st
			}
			pairs = append(pairs, [2]string{ns, string(v)})
		}
		return encodePairs(pairs), statusOK
	}
	ns, ok := md[segs[2]]
	if !ok {
		return nil, statusNotFound
	}
	v := structpb.NewStructValue(ns)
	for _, seg := range segs[3:] {
		switch k := v.GetKind().(type) {
		case *structpb.Value_StructValue:
			next, ok := k.StructValue.GetFields()[seg]
			if !ok {
				return nil, statusNotFound
			}
			v = next
		case *structpb.Value_ListValue:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(k.ListValue.GetValues()) {
				return nil, statusNotFound
			}
			v = k.ListValue.GetValues()[i]
		default:
			return nil, statusNotFound
		}
	}
	return serializeValue(v)
}

func serializeValue(v *structpb.Value) ([]byte, uint64) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return []byte(k.StringValue), statusOK
	case *structpb.Value_NumberValue:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(k.NumberValue)), statusOK
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return []byte{1}, statusOK
		}
		return []byte{0}, statusOK
	case *structpb.Value_StructValue:
		var pairs [][2]string
		for name, f := range k.StructValue.GetFields() {
			b, st := serializeValue(f)
			if st != statusOK {
				return nil, st
			}
			pairs = append(pairs, [2]string{name, string(b)})
		}
		return encodePairs(pairs), statusOK
	case *structpb.Value_ListValue:
		var pairs [][2]string
		for _, f := range k.ListValue.GetValues() {
			b, st := serializeValue(f)
			if st != statusOK {
				return nil, st
			}
			pairs = append(pairs, [2]string{string(b), ""})
		}
		return encodePairs(pairs), statusOK
	}
	// A null (or an unset Value) is a CEL null, which serializeValue refuses.
	return nil, statusSerializationFailure
}

// MetadataValue is what proxy_get_property answers for
// metadata.filter_metadata.<path...> on a stream with this metadata, for
// code that reads it outside a VM (the bench's native leg): found is false
// on NotFound, err set when Envoy could not serialise the value.
func MetadataValue(md map[string]*structpb.Struct, path ...string) (value []byte, found bool, err error) {
	v, status := metadataProperty(md, append([]string{"metadata", "filter_metadata"}, path...))
	switch status {
	case statusOK:
		return v, true, nil
	case statusNotFound:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("metadata %q: status %d", path, status)
}
