-- Seat acquisition locks its license and deployment rows FOR NO KEY UPDATE
-- instead of FOR UPDATE.
--
-- FOR UPDATE also excludes FOR KEY SHARE, the lock every foreign-key check
-- takes on the row it refers to. The validation-count flush (AddValidation
-- Stats, AddValidationSightings) and usage reports insert rows referring to
-- many licenses at once, so a flush waited for every seat batch holding
-- one of its licenses while holding key-share locks a seat batch then
-- needed: make bench's new-deployment route found deadlocks (SQLSTATE
-- 40P01 after deadlock_timeout, one a flush), each stalling every seat
-- request of the batch for a second. FOR NO KEY UPDATE is what an UPDATE
-- of the row takes itself; it still excludes every other seat acquisition
-- of the license (and any change of the row), so seats are admitted one
-- license at a time as before. Licenses are never deleted and seat
-- acquisition changes no key, so nothing needs the stronger lock.
--
-- The functions are otherwise unchanged, so their stored definitions are
-- rewritten here rather than repeated: each must hold exactly two
-- FOR UPDATE clauses (its license, then its deployments), or the
-- migration stops.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    f regprocedure;
    def text;
BEGIN
    FOREACH f IN ARRAY ARRAY['acquire_seats'::regproc::regprocedure, 'acquire_seat'::regproc::regprocedure] LOOP
        def := pg_get_functiondef(f);
        IF (length(def) - length(replace(def, ' FOR UPDATE', ''))) / length(' FOR UPDATE') <> 2 THEN
            RAISE EXCEPTION '%: expected two FOR UPDATE clauses', f;
        END IF;
        EXECUTE replace(def, ' FOR UPDATE', ' FOR NO KEY UPDATE');
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['acquire_seats'::regproc::regprocedure, 'acquire_seat'::regproc::regprocedure] LOOP
        EXECUTE replace(pg_get_functiondef(f), ' FOR NO KEY UPDATE', ' FOR UPDATE');
    END LOOP;
END
$$;
-- +goose StatementEnd
