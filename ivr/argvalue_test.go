package ivr

import (
	"errors"
	"testing"
)

func TestCheckArgValue(t *testing.T) {
	ok := []string{"1001", "+15551234567", "fifo_sales", "Playcell_1001", "user.name", "a@b", "*72#", "x=y", ""}
	for _, v := range ok {
		if err := checkArgValue("v", v); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	bad := []string{
		"1001, sofia/gateway/x/1900", "1001|1002", "1001\n", "a\rb", "1001 XML", "{x=y}1001",
		"[x=y]1001", "sofia/gw/1900", "a:b", "${danger}", string(make([]byte, maxValueLen+1)),
	}
	for _, v := range bad {
		if err := checkArgValue("v", v); !errors.Is(err, ErrUnsafeValue) {
			t.Errorf("%q accepted (err %v)", v, err)
		}
	}
}
