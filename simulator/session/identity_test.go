package session

import (
	"fmt"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

func validCard(c contracts.CardData, now time.Time) error {
	num, err := idcard.ParseAt(c.IDCard, now)
	if err != nil {
		return err
	}
	if err := idcard.ValidateName(c.Name); err != nil {
		return err
	}
	if c.BirthDate != num.Birth.Format("20060102") {
		return fmt.Errorf("birth %s does not match the number", c.BirthDate)
	}
	if (c.GenderCode == "1") != (num.Gender() == idcard.Male) {
		return fmt.Errorf("gender code %s does not match the number", c.GenderCode)
	}
	if err := idcard.ValidateValidity(c.ValidityBegin, c.ValidityEnd, num.Birth, now); err != nil {
		return err
	}
	if cardExpired(&c, now) {
		return fmt.Errorf("card expired %s", c.ValidityEnd)
	}
	if c.Address == "" || c.IssuingAuthority == "" || c.Ethnicity == "" || len(c.EthnicityCode) != 2 {
		return fmt.Errorf("missing fields")
	}
	return nil
}
