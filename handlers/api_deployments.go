package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
)

// deploymentView adds the deployment's state (licensing's, in the API's
// words) and whether it holds a seat.
type deploymentView struct {
	db.DeploymentView
	HoldsSeat bool `json:"holdsSeat"`
}

func viewDeployment(d db.Deployment, window time.Duration, now time.Time) deploymentView {
	v := deploymentView{DeploymentView: d.View(), HoldsSeat: d.HoldsSeat(window, now)}
	v.Status = string(d.State(window, now).APIState())
	return v
}

func heartbeatWindow(l db.License) time.Duration { return l.HeartbeatWindow() }

// listDeployments handles GET /api/licenses/:id/deployments.
func (s *Server) listDeployments(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	rows, err := s.store.ListDeployments(c.UserContext(), l.ID)
	if err != nil {
		return err
	}
	now := s.now()
	out := listBody[deploymentView]{Data: make([]deploymentView, 0, len(rows))}
	for _, d := range rows {
		out.Data = append(out.Data, viewDeployment(d, heartbeatWindow(l), now))
	}
	return c.JSON(out)
}

// releaseDeployment handles DELETE /api/licenses/:id/deployments/:deploymentId:
// the seat is freed and the deployment answers DEPLOYMENT_DEACTIVATED.
func (s *Server) releaseDeployment(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	d, err := s.licenses.ReleaseDeployment(c.UserContext(), s.apiActor(c), l, string([]byte(c.Params("deploymentId"))), "admin")
	if err != nil {
		return err
	}
	return c.JSON(viewDeployment(d, heartbeatWindow(l), s.now()))
}

// reactivateDeployment handles POST /api/licenses/:id/deployments/:deploymentId/reactivate.
func (s *Server) reactivateDeployment(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	d, err := s.licenses.ReactivateDeployment(c.UserContext(), s.apiActor(c), l, string([]byte(c.Params("deploymentId"))))
	if err != nil {
		return err
	}
	return c.JSON(viewDeployment(d, heartbeatWindow(l), s.now()))
}
