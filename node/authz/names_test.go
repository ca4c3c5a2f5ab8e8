package authz

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

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

// TestMaskPublic: the public masking of whole messages masks private
// persons' names and numbers in their fields, in an alert's evidence and
// key, and wherever the text repeats them, and leaves companies' names and
// other words alone.
func TestMaskPublic(t *testing.T) {
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const id = "11010519491231002X"
	cases := []struct {
		name string
		in   proto.Message
		want proto.Message
	}{
		{"a payment to a person, named in the summary",
			&sanziv1.Transaction{Summary: "付张三丰修路款，身份证 " + id, Counterparty: &sanziv1.Counterparty{Name: "张三丰", IdNumber: id, Phone: "13812345678"}},
			&sanziv1.Transaction{Summary: "付张**修路款，身份证 1101**********002X", Counterparty: &sanziv1.Counterparty{Name: "张**", IdNumber: "1101**********002X", Phone: "138****5678"}}},
		{"a company keeps its name",
			&sanziv1.Transaction{Summary: "恒达建材有限公司货款", Counterparty: &sanziv1.Counterparty{Name: "恒达建材有限公司"}},
			&sanziv1.Transaction{Summary: "恒达建材有限公司货款", Counterparty: &sanziv1.Counterparty{Name: "恒达建材有限公司"}}},
		{"a one-character name is masked in its field only",
			&sanziv1.Transaction{Summary: "李家村修路", Counterparty: &sanziv1.Counterparty{Name: "李"}},
			&sanziv1.Transaction{Summary: "李家村修路", Counterparty: &sanziv1.Counterparty{Name: "*"}}},
		{"an alert's evidence, detail and key",
			&sanziv1.Alert{Key: "SPLIT/王小二/350505100201-7", Reason: "王小二不是本集体经济组织成员",
				Evidence: map[string]string{"counterparty_name": "王小二", "payee": "王小二", "counterparty_is_person": "true", "amount_fen": "100"}},
			&sanziv1.Alert{Key: "SPLIT/王**/350505100201-7", Reason: "王**不是本集体经济组织成员",
				Evidence: map[string]string{"counterparty_name": "王**", "payee": "王**", "counterparty_is_person": "true", "amount_fen": "100"}}},
		{"an alert about a company",
			&sanziv1.Alert{Evidence: map[string]string{"counterparty_name": "新村合作社", "counterparty_is_person": "false"}},
			&sanziv1.Alert{Evidence: map[string]string{"counterparty_name": "新村合作社", "counterparty_is_person": "false"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := proto.Clone(c.in)
			MaskPublic(got, today)
			if !proto.Equal(got, c.want) {
				t.Fatalf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}
