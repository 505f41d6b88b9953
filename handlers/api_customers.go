package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerCustomerRoutes(api fiber.Router) {
	api.Get("/customers", s.requireScope(licensing.ScopeCustomersRead), s.listCustomers)
	api.Post("/customers", s.requireScope(licensing.ScopeCustomersWrite), s.createCustomer)
	api.Get("/customers/:id", s.requireScope(licensing.ScopeCustomersRead), s.getCustomer)
	api.Patch("/customers/:id", s.requireScope(licensing.ScopeCustomersWrite), s.updateCustomer)
	api.Post("/customers/:id/archive", s.requireScope(licensing.ScopeCustomersWrite), s.archiveCustomer)
	api.Delete("/customers/:id", s.requireScope(licensing.ScopeCustomersWrite), s.archiveCustomer)
}

type customerBody struct {
	Name             *string         `json:"name"`
	Email            *string         `json:"email"`
	Company          *string         `json:"company"`
	Metadata         *map[string]any `json:"metadata"`
	StripeCustomerID *string         `json:"stripeCustomerId"`
	BillingEmail     *string         `json:"billingEmail"`
	TechnicalEmail   *string         `json:"technicalEmail"`
}

func (b customerBody) apply(in *db.CustomerInput) {
	if b.Name != nil {
		in.Name = *b.Name
	}
	if b.Email != nil {
		in.Email = *b.Email
	}
	if b.Company != nil {
		in.Company = *b.Company
	}
	if b.Metadata != nil {
		in.Metadata = *b.Metadata
	}
	if b.BillingEmail != nil || b.TechnicalEmail != nil {
		in.BillingEmail, in.TechnicalEmail = b.BillingEmail, b.TechnicalEmail
	}
	if b.StripeCustomerID != nil {
		v := *b.StripeCustomerID
		if v == "" {
			in.StripeCustomerID = nil
		} else {
			in.StripeCustomerID = &v
		}
	}
}

// listCustomers handles GET /api/customers?q=&limit=&cursor=&archived=true.
func (s *Server) listCustomers(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	params := db.ListCustomersParams{Q: likePattern(c.Query("q")), IncludeArchived: c.QueryBool("archived")}
	if p.After != nil {
		params.BeforeCreated, params.BeforeID = &p.After.T, &p.After.ID
	}
	pg, err := s.customersPage(c, p.Limit, params)
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, db.Customer.View))
}

// customersPage is one page of customers, newest first, for the API and the
// admin list alike.
func (s *Server) customersPage(c *fiber.Ctx, limit int32, params db.ListCustomersParams) (Page[db.Customer, cursor], error) {
	return fetchPage(limit, func(n int32) ([]db.Customer, error) {
		params.MaxRows = n
		return s.store.ListCustomers(c.UserContext(), params)
	}, func(last db.Customer) cursor { return cursor{T: last.CreatedAt, ID: last.ID} })
}

// createCustomer handles POST /api/customers.
func (s *Server) createCustomer(c *fiber.Ctx) error {
	var b customerBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	var in db.CustomerInput
	b.apply(&in)
	cust, err := s.store.CreateCustomer(c.UserContext(), s.apiActor(c), in, s.now())
	if err != nil {
		return err
	}
	return s.answerCustomer(c.Status(fiber.StatusCreated), cust)
}

// getCustomer handles GET /api/customers/:id.
func (s *Server) getCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	cust, err := s.store.GetCustomer(c.UserContext(), id)
	if err != nil {
		return notFoundAs(err, "customer")
	}
	return s.answerCustomer(c, cust)
}

// updateCustomer handles PATCH /api/customers/:id.
func (s *Server) updateCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	var b customerBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	cust, err := s.store.UpdateCustomer(c.UserContext(), s.apiActor(c), id, b.apply, s.now())
	if err != nil {
		return err
	}
	return s.answerCustomer(c, cust)
}

// archiveCustomer handles POST /api/customers/:id/archive and DELETE /api/customers/:id.
func (s *Server) archiveCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	cust, err := s.store.ArchiveCustomer(c.UserContext(), s.apiActor(c), id, s.now())
	if err != nil {
		return err
	}
	return c.JSON(cust.View())
}

func notFoundAs(err error, what string) error {
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return licensing.Errorf(licensing.ENOTFOUND, "%s not found", what)
	}
	return err
}

// customerAnswer is one customer as the API answers it, with its contacts
// (lists leave them out).
type customerAnswer struct {
	db.CustomerView
	BillingEmail   *string `json:"billingEmail"`
	TechnicalEmail *string `json:"technicalEmail"`
}

func (s *Server) answerCustomer(c *fiber.Ctx, cust db.Customer) error {
	billing, technical, err := s.store.CustomerContacts(c.UserContext(), cust.ID)
	if err != nil {
		return err
	}
	return c.JSON(customerAnswer{CustomerView: cust.View(), BillingEmail: billing, TechnicalEmail: technical})
}
