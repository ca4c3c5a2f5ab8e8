package authz

import (
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestPublicCounterparty(t *testing.T) {
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	first17 := "35050519800101123"
	check, err := idcode.ResidentIDCheck(first17)
	if err != nil {
		t.Fatal(err)
	}
	resident := first17 + string(check)
	for _, tc := range []struct {
		name string
		in   *sanziv1.Counterparty
		want *sanziv1.Counterparty
	}{
		{"a person with a resident ID", &sanziv1.Counterparty{Name: "张三", IdNumber: resident, BankAccount: "6222020200112233445", Phone: "13800135678"},
			&sanziv1.Counterparty{Name: "张*", IdNumber: "3505**********" + resident[14:], BankAccount: "6222***********3445", Phone: "138****5678"}},
		{"a company with a credit code", &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43"},
			&sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "9135**********0Y43"}},
		{"a company named without a code", &sanziv1.Counterparty{Name: "城关农机修理厂"}, &sanziv1.Counterparty{Name: "城关农机修理厂"}},
		{"a person named like a shop", &sanziv1.Counterparty{Name: "李国行"}, &sanziv1.Counterparty{Name: "李**"}},
		{"a compound family name", &sanziv1.Counterparty{Name: "欧阳娜娜"}, &sanziv1.Counterparty{Name: "欧***"}},
		{"a person with an invalid ID", &sanziv1.Counterparty{Name: "王五", IdNumber: "123"}, &sanziv1.Counterparty{Name: "王*", IdNumber: "***"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PublicCounterparty(tc.in, today)
			if got.GetName() != tc.want.GetName() || got.GetIdNumber() != tc.want.GetIdNumber() || got.GetBankAccount() != tc.want.GetBankAccount() || got.GetPhone() != tc.want.GetPhone() {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if tc.in.GetName() == got.GetName() && PrivatePerson(tc.in, today) {
				t.Fatal("the input was changed")
			}
		})
	}
}
