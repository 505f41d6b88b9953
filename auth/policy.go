// The password policy people meet when they choose a password (by an
// invitation link or on their account page).
package auth

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Password rules.

const (
	MinPasswordRunes = 12
	// bcrypt reads only the first 72 bytes of a password; a longer one is
	// refused rather than silently cut, so every character typed counts.
	MaxPasswordBytes = 72
)

// PasswordProblems checks a new password and its confirmation, by form
// field ("password", "confirm"); empty when both are fine.
func PasswordProblems(password, confirm, email string) map[string]string {
	errs := map[string]string{}
	lower := strings.ToLower(password)
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	switch {
	case password == "":
		errs["password"] = "Enter a password."
	case utf8.RuneCountInString(password) < MinPasswordRunes:
		errs["password"] = fmt.Sprintf("Use at least %d characters.", MinPasswordRunes)
	case len(password) > MaxPasswordBytes:
		errs["password"] = "Use at most 72 bytes: 72 plain letters, digits or symbols (accented letters and emoji count 2 to 4 each)."
	case !utf8.ValidString(password):
		errs["password"] = "The password contains characters that cannot be read. Type it again."
	case lower == strings.ToLower(email) || lower == local || (utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local)):
		errs["password"] = "Do not use your email address, or its part before the @, in your password."
	case commonPassword(lower):
		errs["password"] = "This password is one of the most common ones, which are guessed first. Choose another."
	}
	if _, bad := errs["password"]; !bad && confirm != password {
		errs["confirm"] = "The two passwords differ. Type the same password twice."
	}
	return errs
}

// commonPassword reports whether a lower-cased password is among the most
// common ones (of 12 characters or more, once spaces are removed) or uses
// fewer than four different characters.
func commonPassword(lower string) bool {
	squeezed := strings.ReplaceAll(lower, " ", "")
	distinct := map[rune]bool{}
	for _, r := range squeezed {
		distinct[r] = true
	}
	if len(distinct) < 4 {
		return true
	}
	_, found := commonPasswords[squeezed]
	return found
}

// commonPasswords are the long-enough entries at the top of public lists of
// leaked passwords, lower-cased without spaces.
var commonPasswords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range strings.Fields(`
		123456789012 1234567890123 12345678901234 123456789012345 1234567890123456 123456123456
		123412341234 123123123123 123321123321 111222333444 121212121212 112233445566 098765432109
		987654321098 12345678910 1234567891011 123456789123 123456789abc 12345678abcd abcd12345678
		qwertyuiop12 qwertyuiop123 qwertyuiop1234 qwertyuiopasdf qwertyuiopasdfghjkl
		qwertyuiopasdfghjklzxcvbnm qwerty123456 qwertyqwerty qwerty12345678 1q2w3e4r5t6y 1q2w3e4r5t6y7u
		1q2w3e4r5t6y7u8i 1qaz2wsx3edc 1qaz2wsx3edc4rfv 1qazxsw23edc q1w2e3r4t5y6 zaq12wsxcde3
		zaq1zaq1zaq1 zxcvbnm12345 zxcvbnm123456 asdfghjkl123 asdfghjkl1234 asdfasdfasdf asdf1234asdf
		qwer1234qwer zxcv1234zxcv 1234qwerasdf 1234qwerasdfzxcv qazwsxedcrfv qazwsxedc123 123qweasdzxc
		qweasdzxc123 123qwe123qwe abcdefghijkl abcdefghijklm abcdefg12345 abc123abc123 abcd1234abcd
		a1b2c3d4e5f6 1a2b3c4d5e6f password1234 password12345 password123456 password1234! password123!
		password2023 password2024 password2025 password2026 passwordpassword passw0rd1234 p@ssw0rd1234
		p@ssword1234 p@ssw0rd123! mypassword123 mypassword1234 secretpassword thisisapassword
		thisismypassword iloveyou1234 iloveyou123456 iloveyouiloveyou welcome12345 welcome123456
		welcome@1234 welcome2024! letmein12345 letmein123456 letmeinletmein changeme1234 changeme123!
		changemenow! administrator administrator1 administrator123 admin1234567 admin12345678
		adminadmin123 adminadminadmin trustno1trustno1 correcthorsebatterystaple monkey123456
		dragon123456 football1234 baseball1234 sunshine1234 princess1234 superman1234 starwars1234
		michael12345 computer1234 whatever1234 internet1234 qwerty123456789 1234567890qwerty
		qwerty1234567890 987654321qwerty 0987654321qwerty 147258369147 159357159357 147852369147
		741852963741 789456123789 963852741963 asdfghjklasdfghjkl 1234567890abc opensesame123
	`) {
		m[p] = struct{}{}
	}
	return m
}()
