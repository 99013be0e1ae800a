package esldial_test

import (
	"fmt"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/esldial"
)

func ExampleBackend_Command() {
	b := esldial.New(esldial.Config{})
	cmd, err := b.Command(dialer.Call{
		AttemptID: "0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90", Campaign: "reminders", ContactID: "c7",
		Channel: "sofia/gateway/carrier/+12125550100", CallerID: "+12125550000", Timeout: 25 * time.Second,
	})
	fmt.Println(cmd, err)

	_, err = b.Command(dialer.Call{AttemptID: "0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90", Channel: "sofia/gateway/carrier/1",
		Vars: map[string]string{"name": "x}loopback/evil"}})
	fmt.Println(err != nil)
	// Output:
	// originate {origination_uuid=0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90,origination_caller_id_number=+12125550000,originate_timeout=25,ivr_flow=notify,fsivr_campaign=reminders,fsivr_contact=c7,fsivr_attempt=0b6c1f8e-3f5a-4c1e-9d3b-7a2f4e6b8c90}sofia/gateway/carrier/+12125550100 notify XML fsivr <nil>
	// true
}
